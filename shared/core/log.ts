// One JSON object per line on stdout, which Supabase's log explorer indexes.
// Fields whose names look secret are masked as a last line of defence; the
// first line is never passing secrets here at all.
type Level = "debug" | "info" | "warn" | "error";
type Fields = Record<string, unknown>;

const SECRET_FIELD =
  /(token|secret|password|authorization|api[_-]?key|cookie|code_verifier|^code$)/i;

function mask(fields: Fields): Fields {
  const out: Fields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET_FIELD.test(k) ? "[redacted]" : v;
  return out;
}

export function log(level: Level, msg: string, fields: Fields = {}): void {
  const line = JSON.stringify({ ts: new Date().toISOString(), level, msg, ...mask(fields) });
  if (level === "error") console.error(line);
  else console.log(line);
}
