/**
 * Typed errors with stable codes (STYLE.md §6). Every error the project raises on
 * purpose extends SpacephoneError; `code` never changes once published, so logs,
 * metrics and tests can match on it.
 */
export abstract class SpacephoneError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export function errorCode(err: unknown): string {
  return err instanceof SpacephoneError ? err.code : 'INTERNAL';
}
