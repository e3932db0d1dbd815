/** Typed errors of the persistence layer (STYLE.md §6). */
import { SpacephoneError } from '../util/errors.ts';

/** The database could not be opened, migrated or read back. */
export class StoreError extends SpacephoneError {
  readonly code: string = 'STORE';
}

/** A store was used after close(). */
export class StoreClosedError extends StoreError {
  override readonly code = 'STORE_CLOSED';
}

/** The file was written by a newer spacephone (a schema version this build does not know). */
export class SchemaVersionError extends StoreError {
  override readonly code = 'STORE_SCHEMA';
}
