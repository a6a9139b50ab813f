// The client address public routes are counted by: the platform's first
// X-Forwarded-For entry, IPv6 by its /64, anything unusable in one bucket.
import assert from "node:assert/strict";
import { clientAddress, UNKNOWN_ADDRESS } from "../../shared/http/client-address.ts";

Deno.test("IPv4: the first X-Forwarded-For entry, which the platform wrote", () => {
  assert.equal(clientAddress("203.0.113.7"), "203.0.113.7");
  assert.equal(clientAddress(" 203.0.113.7 , 10.0.0.1"), "203.0.113.7");
  assert.equal(clientAddress("203.0.113.7,198.51.100.1"), "203.0.113.7");
});

Deno.test("IPv6: counted by the /64 its holder usually owns whole", () => {
  const cases: [string, string][] = [
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:DB8:1:2::5", "2001:db8:1:2::/64"],
    ["2001:0db8:0001:0002:ffff::", "2001:db8:1:2::/64"],
    ["[2001:db8::1]", "2001:db8:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["64:ff9b::192.0.2.1", "64:ff9b:0:0::/64"],
    ["::ffff:192.0.2.1", "192.0.2.1"],
  ];
  for (const [given, bucket] of cases) assert.equal(clientAddress(given), bucket, given);
});

Deno.test("no usable address: one shared bucket, never a bucket per forged string", () => {
  for (
    const given of [
      undefined,
      null,
      "",
      "unknown",
      "garbage",
      "1.2.3",
      "999.1.1.1",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "12345::1",
      "::ffff:999.0.0.1",
      "a".repeat(100),
    ]
  ) {
    assert.equal(clientAddress(given), UNKNOWN_ADDRESS, String(given));
  }
});
