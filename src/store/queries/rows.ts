/** What every query module does with rows: JSON columns read back, UNIQUE(name) turned into a 409. */
import { conflict } from '../../core/errors.ts';
import { UniqueViolation } from '../driver.ts';

/** A JSON text column as its value; SQL NULL as null. */
export const json = <T>(v: unknown): T => (v === null || v === undefined ? (null as T) : (JSON.parse(v as string) as T));

/** Runs an insert or update, turning a broken UNIQUE(name) into a 409 that names the thing. */
export async function uniqueName<T>(what: string, name: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if (e instanceof UniqueViolation) throw conflict(`a ${what} named '${name}' already exists`);
    throw e;
  }
}

/**
 * SQL for a JSON array text column with one more item (the SQL text of a JSON value) spliced in as text:
 * one statement appends to a history whatever its length, with no JSON parsing on either store. `item` appears
 * twice: a `?` there takes its value twice.
 */
export const appendJsonItem = (column: string, item: string) =>
  `CASE WHEN ${column} = '[]' THEN '[' || ${item} || ']' ELSE substr(${column}, 1, length(${column}) - 1) || ',' || ${item} || ']' END`;
