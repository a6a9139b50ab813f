// Hosted Supabase's wall-clock limits for one function request, and what an
// outbound call (agent, provider, HeyGen) may use of them. A request that
// outlives them is cut off by the platform with no answer of ours, so every
// outbound timeout is capped below them (documented in the README).
export const PLATFORM = {
  // Until the first response byte.
  firstByteMs: 150_000,
  // In all: free plans 150 s, paid plans 400 s. We hold to the stricter.
  totalMs: 150_000,
} as const;

// The most one request may spend waiting on others, leaving the rest of the
// limit to the database work around the calls and to the answer itself.
export const OUTBOUND_BUDGET_MS = 140_000;
