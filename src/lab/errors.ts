/** Typed errors of the lab runner (STYLE.md §6); `code` values are stable. */
import { SpacephoneError } from '../util/errors.ts';

/** A node process failed to come up (exited, or its health endpoint never answered). */
export class LabNodeStartError extends SpacephoneError {
  readonly code = 'LAB_NODE_START';
  constructor(
    readonly node: string,
    message: string,
    /** Last lines the node wrote to stderr/stdout, oldest first. */
    readonly outputTail: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The control API or a caller named a node the lab does not run. */
export class LabUnknownNodeError extends SpacephoneError {
  readonly code = 'LAB_UNKNOWN_NODE';
}

/** Preparing the lab failed: directory, TLS certificate (openssl), or a listen address. */
export class LabSetupError extends SpacephoneError {
  readonly code = 'LAB_SETUP';
}
