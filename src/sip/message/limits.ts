/** Parser limits: hostile input gets a typed error, never a hang or unbounded memory. */
export interface ParseLimits {
  /** Largest accepted message in octets (default 65535, the UDP maximum). */
  maxMessageSize: number;
  /** Most header fields (logical, after unfolding; default 256). */
  maxHeaders: number;
  /** Longest physical line (default 8192). */
  maxLineLength: number;
}

export const DEFAULT_LIMITS: Readonly<ParseLimits> = { maxMessageSize: 65535, maxHeaders: 256, maxLineLength: 8192 };
