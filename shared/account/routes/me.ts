import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../core/errors.ts";
import { errorResponses, jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { Profile, UpdateProfile } from "../schemas.ts";
import { ownProfile, updateProfile } from "../store.ts";

export const getRoute = createRoute({
  method: "get",
  path: "/me",
  summary: "The caller's profile",
  tags: ["account"],
  ...userAccess("account:read", "default", { oneTrip: true }),
  responses: {
    200: jsonResponse("The profile", Profile),
    ...errorResponses(401, 403, 404, 429),
  },
});

export const updateRoute = createRoute({
  method: "patch",
  path: "/me",
  summary: "Change display name, avatar, time zone or preferences",
  tags: ["account"],
  ...userAccess("account:write", "default", { oneTrip: true }),
  request: { body: jsonBody(UpdateProfile) },
  responses: {
    200: jsonResponse("The updated profile", Profile),
    ...errorResponses(400, 401, 403, 404, 413, 429),
  },
});

export function register(app: App) {
  app.openapi(getRoute, async (c) => {
    const [[profile]] = await queryAsUser(c.get("user"), ownProfile()) as [Profile[]];
    if (!profile) throw notFound("profile");
    return c.json(profile, 200);
  });
  app.openapi(updateRoute, async (c) => {
    const patch = c.req.valid("json");
    const [[profile]] = await queryAsUser(c.get("user"), updateProfile(patch)) as [Profile[]];
    if (!profile) throw notFound("profile");
    return c.json(profile, 200);
  });
}
