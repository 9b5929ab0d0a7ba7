import type { RecordWrite } from './changed-key-writes.js';
import { ownValue } from './session-record.js';

// How the SQLite store applies a change to a record kept as JSON text: the SQL of its one `UPDATE`, and the
// same change applied in JavaScript for the records SQLite's JSON paths cannot address.

/** Paths per `json_set` (two arguments each) and per `json_remove`: SQLite before 3.48 takes 127 arguments. */
const PAIRS_PER_CALL = 60;

/** A row whose `sess` is a JSON object: only such a row is patched or touched (json_set fails on bad JSON). */
export const IS_RECORD = "CASE WHEN json_valid(sess) THEN json_type(sess) = 'object' END";

/**
 * A row with no key holding a NUL: SQLite compares JSON labels as if they ended at a NUL, so that `$."a"`
 * would find `"a\u0000b"` (the test is on the text: a value with a NUL in it merely takes the slower path).
 */
const NUL_FREE = "instr(sess, '\\u0000') = 0";

/**
 * The `UPDATE` that applies `write` to a live row of `table` in one statement (`json_set` for each key set
 * and the cookie, `json_remove` for each key removed, the expiry), with its values but the trailing
 * `expire, sid, now`; undefined when a key holds a NUL (see `applyWrite`). Calls are nested by
 * `PAIRS_PER_CALL` paths, within SQLite's limit on arguments.
 */
export function patchStatement(table: string, write: RecordWrite): { sql: string; values: string[] } | undefined {
  if ([...write.set.keys(), ...write.unset].some((key) => key.includes('\u0000'))) return undefined;
  const values = ['$.cookie', write.cookie];
  for (const [key, json] of write.set) if (key !== 'cookie') values.push(pathOf(key), json);
  const sets = values.length / 2;
  let sess = 'sess';
  for (let i = 0; i < sets; i += PAIRS_PER_CALL) {
    sess = `json_set(${sess}${', ?, json(?)'.repeat(Math.min(PAIRS_PER_CALL, sets - i))})`;
  }
  for (let i = 0; i < write.unset.length; i += 2 * PAIRS_PER_CALL) {
    sess = `json_remove(${sess}${', ?'.repeat(Math.min(2 * PAIRS_PER_CALL, write.unset.length - i))})`;
  }
  values.push(...write.unset.map(pathOf));
  const where = `sid = ? AND expire > ? AND ${NUL_FREE} AND ${IS_RECORD}`;
  return { sql: `UPDATE ${table} SET sess = ${sess}, expire = ? WHERE ${where}`, values };
}

/** The record `text` with `write` applied, in JavaScript (values already JSON are parsed, then written again). */
export function applyWrite(text: string, write: RecordWrite): string {
  const record = JSON.parse(text) as Record<string, unknown>;
  record.cookie = JSON.parse(write.cookie);
  for (const [key, json] of write.set) if (key !== 'cookie') ownValue(record, key, JSON.parse(json));
  for (const key of write.unset) delete record[key];
  return JSON.stringify(record);
}

/**
 * The JSON path of a top-level key: one quoted label whatever the key holds (`.`, `$`, `[`, a lone
 * surrogate). The label is the key as JSON escapes it, with `"` as `\u0022`: older SQLite releases end a
 * quoted label at the first `"`, even an escaped one.
 */
function pathOf(key: string): string {
  return `$."${JSON.stringify(key).slice(1, -1).replaceAll('\\"', '\\u0022')}"`;
}

/** The parsed record, or its text when it is not JSON (the module then treats it as corrupt and replaces it). */
export function parseOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
