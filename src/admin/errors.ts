/** Typed errors of the admin API (STYLE.md §6); each maps to one HTTP status. */
import { SpacephoneError } from '../util/errors.ts';

/** The named trunk, peer or object does not exist on this node → 404. */
export class AdminNotFoundError extends SpacephoneError {
  readonly code = 'ADMIN_NOT_FOUND';
}

/** The node offers no control for this route → 501. */
export class AdminNoControlError extends SpacephoneError {
  readonly code = 'ADMIN_NO_CONTROL';
}

export function httpStatusOf(err: unknown): number {
  if (err instanceof AdminNotFoundError) return 404;
  if (err instanceof AdminNoControlError) return 501;
  const sc = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof sc === 'number' && sc >= 400 && sc < 600 ? sc : 500;
}
