/**
 * ZooKeeper's path rules (its `PathUtils.validatePath`): absolute, no empty, `.` or `..`
 * segment, no trailing slash but the root's, and none of the characters ZooKeeper
 * refuses (NUL, control characters, the surrogate and private-use range, U+FFF0 on).
 */

/** Why `path` is not a valid znode path, or undefined if it is. A sequential create validates its path with a digit appended, as ZooKeeper does. */
export function invalidPath(path: string, sequential = false): string | undefined {
  if (sequential) path += '1';
  if (path.length === 0) return 'a path must not be empty';
  if (path.charCodeAt(0) !== 0x2f) return `path ${JSON.stringify(path)} must start with /`;
  if (path.length === 1) return undefined;
  if (path.charCodeAt(path.length - 1) === 0x2f) return `path ${JSON.stringify(path)} must not end with /`;
  let segmentStart = 1;
  for (let i = 1; i <= path.length; i++) {
    const c = i === path.length ? 0x2f : path.charCodeAt(i);
    if (c === 0x2f) {
      const segment = path.slice(segmentStart, i);
      if (segment.length === 0) return `path ${JSON.stringify(path)} has an empty segment at ${i}`;
      if (segment === '.' || segment === '..') return `path ${JSON.stringify(path)} has a relative segment at ${segmentStart}`;
      segmentStart = i + 1;
      continue;
    }
    if (c === 0) return `path ${JSON.stringify(path)} has a null character at ${i}`;
    if ((c > 0 && c < 0x20) || (c >= 0x7f && c < 0xa0) || (c > 0xd7ff && c < 0xf900) || (c > 0xffef && c <= 0xffff)) {
      return `path ${JSON.stringify(path)} has an invalid character at ${i}`;
    }
  }
  return undefined;
}

/** The parent of a valid path other than the root (`/a` for `/a/b`, `/` for `/a`). */
export function parentOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at === 0 ? '/' : path.slice(0, at);
}

/** `child` under `parent` (`/a` + `b` = `/a/b`, `/` + `b` = `/b`). */
export function childPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}
