/**
 * os-release(5) parser. The legacy script `source`d this file as shell code (legacy-loader.md §B.12.10), so a
 * host file could run commands as root; we only ever read it as data. Shell quoting is honoured the way a POSIX
 * shell would assign the value (double quotes with \-escapes, single quotes, bare words, and concatenations of
 * those), but nothing is expanded or executed: `ID=$(touch /tmp/x)` yields the literal text.
 * Blank lines, comments and lines that are not assignments are skipped; the last assignment of a key wins.
 */
export type OsRelease = Readonly<Record<string, string>>;

const ASSIGNMENT = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

export function parseOsRelease(text: string): OsRelease {
  const result: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = ASSIGNMENT.exec(line);
    if (match === null) continue;
    const value = parseShellValue(match[2] ?? '');
    if (value === undefined) continue;
    result[match[1] as string] = value;
  }
  return result;
}

/** One shell word; undefined when the quoting is unbalanced (such a line is skipped, as garbage). */
function parseShellValue(input: string): string | undefined {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i] as string;
    if (c === ' ' || c === '\t') break; // end of the word; what follows (a comment, say) is not part of the value
    if (c === '"') {
      i++;
      let closed = false;
      while (i < input.length) {
        const d = input[i] as string;
        if (d === '\\' && i + 1 < input.length && '$`"\\'.includes(input[i + 1] as string)) {
          out += input[i + 1];
          i += 2;
          continue;
        }
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        out += d;
        i++;
      }
      if (!closed) return undefined;
      continue;
    }
    if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) return undefined;
      out += input.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '\\' && i + 1 < input.length) {
      out += input[i + 1];
      i += 2;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}
