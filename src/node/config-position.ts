/**
 * Maps a path inside the parsed config (e.g. ['extensions', '2001', 'password'])
 * back to a line:column in the YAML source, so errors read like compiler errors:
 * `lab.yaml:14:5: extensions.2001.password: required`.
 *
 * Uses the yaml library's node ranges (character offsets) and a LineCounter.
 * When the path does not exist in the source (a missing key), the position is
 * that of the deepest key that does exist — the mapping the key is missing from.
 * `atKey` points at the last key itself rather than its value (unknown keys).
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';

export interface SourcePos {
  line: number;
  col: number;
}

export function pathPosition(doc: Document, lc: LineCounter, path: readonly PropertyKey[], atKey = false): SourcePos | undefined {
  let node: unknown = doc.contents;
  let lastOffset = rangeStart(node);
  for (const [i, seg] of path.entries()) {
    if (isMap(node)) {
      // Keys compare as strings: YAML `2001:` is an integer key, zod sees "2001".
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      lastOffset = rangeStart(pair.key) ?? lastOffset;
      node = pair.value;
      if (atKey && i === path.length - 1) break;
      const vs = rangeStart(node);
      if (vs !== undefined) lastOffset = vs;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      node = item;
      lastOffset = rangeStart(node) ?? lastOffset;
    } else {
      break;
    }
  }
  if (lastOffset === undefined) return undefined;
  return lc.linePos(lastOffset);
}

function rangeStart(n: unknown): number | undefined {
  const range = (n as Node | null | undefined)?.range;
  return Array.isArray(range) ? range[0] : undefined;
}
