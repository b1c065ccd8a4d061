import { UserError } from '../errors.js';
import type { DownloadSettings } from './types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export type CurlOverrides = Partial<Mutable<Omit<DownloadSettings, 'headers'>>> & { headers?: Array<[string, string]> };

const NAME = 'DRIVER_CURL_OPTIONS';

// -L, -f, -s, -S and these long forms are what the downloader always does (follow redirects, fail on HTTP errors,
// stay quiet, create directories, retry refused connections), so they are accepted silently.
const NOOP_LONG = new Set(['--location', '--fail', '--silent', '--show-error', '--create-dirs', '--retry-connrefused']);
const NOOP_SHORT = 'LfsS';

type Setter = (o: CurlOverrides, value: string, option: string) => void;
const VALUED: Record<string, Setter> = {
  '--cacert': (o, v) => {
    o.caFile = v;
  },
  '--proxy': (o, v) => {
    o.proxy = v;
  },
  '--proxy-user': (o, v) => {
    o.proxyUser = v;
  },
  '--user': (o, v) => {
    o.user = v;
  },
  '--header': (o, v, option) => {
    const header = parseHeader(v, option);
    if (header !== undefined) o.headers = [...(o.headers ?? []), header];
  },
  '--connect-timeout': (o, v, option) => {
    o.connectTimeoutMs = milliseconds(v, option);
  },
  '--max-time': (o, v, option) => {
    o.maxTimeMs = milliseconds(v, option);
  },
  '--retry': (o, v, option) => {
    if (!/^\d{1,6}$/.test(v)) throw new UserError(`${NAME}: ${option} needs a whole number of retries, got '${v}'`);
    o.retries = Number(v);
  },
  '--retry-max-time': (o, v, option) => {
    o.retryMaxTimeMs = milliseconds(v, option);
  },
};
const SHORT_VALUED: Record<string, string> = {
  x: '--proxy',
  U: '--proxy-user',
  u: '--user',
  H: '--header',
  m: '--max-time',
};

/**
 * curl options we do not translate but must know take a value, so the value is skipped with them rather than
 * read as an option of its own. Their values are not echoed when they can hold secrets.
 */
const OTHER_VALUED_LONG = new Set(
  `--limit-rate --output --data --data-binary --data-raw --data-urlencode --request --user-agent --referer --range
  --cookie --cookie-jar --write-out --upload-file --cert --key --cert-type --key-type --pass --capath --crlfile
  --pinnedpubkey --ciphers --tls-max --resolve --connect-to --interface --dns-servers --max-filesize --retry-delay
  --speed-limit --speed-time --proxy-cacert --proxy-cert --proxy-key --proxy-pass --noproxy --socks5
  --socks5-hostname --preproxy --keepalive-time --expect100-timeout --local-port --max-redirs --config --time-cond
  --dump-header --trace --trace-ascii --stderr --url --quote --oauth2-bearer --aws-sigv4 --proto --proto-redir
  --unix-socket --output-dir --form --form-string --json --proxy-header --request-target --tlsuser --tlspassword
  --proxy-tlsuser --proxy-tlspassword --netrc-file --variable --rate --happy-eyeballs-timeout-ms`.split(/\s+/),
);
const OTHER_VALUED_SHORT = new Set([...'odXAerbcwTEKzDQYyFP']);
const SECRET = new Set(
  `--pass --proxy-pass --cert -E --proxy-cert --oauth2-bearer --cookie -b --data -d --data-binary --data-raw
  --data-urlencode --form -F --form-string --json --tlspassword --proxy-tlspassword --proxy-header --url --preproxy`.split(
    /\s+/,
  ),
);

/**
 * DRIVER_CURL_OPTIONS was pasted unquoted into the curl command line, so bash word-split it without honouring
 * quotes (legacy-loader.md §B.12.7): `-H "Authorization: Bearer x"` never worked. Here the text is split like a
 * POSIX shell would split a command line (quotes and backslashes honoured) but nothing is ever expanded or run:
 * `$(…)`, backticks, `;`, `|`, `&`, `<`, `>` and globs stay literal characters. The options the downloader can honour
 * are translated; the rest are skipped with one warning each.
 */
export function parseCurlOptions(text: string): { options: CurlOverrides; warnings: string[] } {
  const words = splitWords(text);
  const options: CurlOverrides = {};
  const warnings: string[] = [];
  let stray = 0;
  const ignore = (option: string, value?: string) => {
    const shown = value === undefined ? '' : ` ${SECRET.has(option) ? '***' : value}`;
    warnings.push(`${NAME}: ignoring ${option}${shown} (not supported by falco-driver-loader)`);
  };
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    const next = (option: string): string => {
      const value = words[++i];
      if (value === undefined) throw new UserError(`${NAME}: ${option} needs a value after it`);
      return value;
    };
    if (word.startsWith('--') && word.length > 2) {
      const eq = word.indexOf('=');
      const option = eq < 0 ? word : word.slice(0, eq);
      const attached = eq < 0 ? undefined : word.slice(eq + 1);
      const setter = VALUED[option];
      if (option === '--insecure' && attached === undefined) options.insecure = true;
      else if (NOOP_LONG.has(option) && attached === undefined) continue;
      else if (setter !== undefined) setter(options, attached ?? next(option), option);
      else if (OTHER_VALUED_LONG.has(option)) ignore(option, attached ?? words[++i]);
      else ignore(word);
    } else if (word.startsWith('-') && word.length > 1 && word !== '--') {
      // A cluster like -fsSL; a value-taking letter takes the rest of the word (-Hvalue) or the next word.
      for (let j = 1; j < word.length; j++) {
        const letter = word.charAt(j);
        const rest = word.slice(j + 1);
        const long = SHORT_VALUED[letter];
        if (letter === 'k') options.insecure = true;
        else if (NOOP_SHORT.includes(letter)) continue;
        else if (long !== undefined) VALUED[long]?.(options, rest === '' ? next(`-${letter}`) : rest, `-${letter}`);
        else if (OTHER_VALUED_SHORT.has(letter)) ignore(`-${letter}`, rest === '' ? words[++i] : rest);
        else ignore(`-${letter}`);
        if (long !== undefined || OTHER_VALUED_SHORT.has(letter)) break;
      }
    } else {
      stray++;
    }
  }
  if (stray > 0) {
    // Not echoed: a stray word is most often half of an unquoted header value, i.e. possibly a token.
    warnings.push(
      `${NAME}: ignoring ${stray} ${stray === 1 ? 'word that is' : 'words that are'} not options (quote values with spaces, e.g. -H 'Name: value')`,
    );
  }
  return { options, warnings };
}

/**
 * POSIX-shell word splitting with quote removal, and nothing else. What a shell would have run or redirected — an
 * unquoted `;` `|` `&` `<` `>`, or a `$(…)` / backtick substitution outside single quotes — is refused rather than
 * passed on as a literal that silently means something else (issue #8).
 */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (c === '\\' && text.charAt(i + 1) === '\n') {
      i += 2; // a line continuation joins what is around it
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    if (';|&<>`'.includes(c) || text.startsWith('$(', i)) throw shellSyntax(text, i);
    inWord = true;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw unbalanced('single', i);
      word += text.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      const start = i++;
      for (;;) {
        if (i >= text.length) throw unbalanced('double', start);
        const d = text.charAt(i);
        if (d === '"') break;
        if (d === '`' || text.startsWith('$(', i)) throw shellSyntax(text, i);
        // Inside double quotes a backslash only escapes $ ` " \ and newline; elsewhere it is literal.
        if (d === '\\' && i + 1 < text.length && '$`"\\\n'.includes(text.charAt(i + 1))) {
          if (text.charAt(i + 1) !== '\n') word += text.charAt(i + 1);
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      i++;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text.charAt(i + 1);
      i += 2;
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

function shellSyntax(text: string, at: number): UserError {
  const what = text.startsWith('$(', at) ? '$(' : text.charAt(at);
  return new UserError(
    `${NAME} contains shell syntax ('${what}' at character ${at + 1}): it is never run by a shell, so nothing in it is expanded or run; remove it, or put it in single quotes to send it as text`,
  );
}

function unbalanced(kind: 'single' | 'double', at: number): UserError {
  // The text itself is not quoted back: it may hold a token or password.
  return new UserError(
    `${NAME} has an unbalanced quote: the ${kind} quote at character ${at + 1} is never closed; close it, or escape it with a backslash`,
  );
}

/** curl's -H forms: `Name: value`; `Name;` sends an empty value; `Name:` removes a header curl would add (none here). */
function parseHeader(text: string, option: string): [string, string] | undefined {
  const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?::(.*)|;\s*)$/s.exec(text);
  if (match === null) {
    throw new UserError(
      `${NAME}: ${option} needs a header written as 'Name: value', e.g. -H 'Authorization: Bearer …'`,
    );
  }
  const name = match[1] as string;
  const value = match[2];
  // biome-ignore lint/suspicious/noControlCharactersInRegex: CR/LF would split the request (issue #13)
  if (value !== undefined && /[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
    throw new UserError(`${NAME}: ${option} ${name}: its value contains a control character such as CR or LF`);
  }
  if (value === undefined) return [name, ''];
  return value.trim() === '' ? undefined : [name, value.trim()];
}

/** Decimal seconds as curl takes them; 0 means no limit, as in curl. */
function milliseconds(text: string, option: string): number {
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text)) {
    throw new UserError(`${NAME}: ${option} needs a number of seconds such as 5 or 2.5, got '${text.slice(0, 32)}'`);
  }
  const ms = Math.round(Number(text) * 1000);
  return ms === 0 ? Number.POSITIVE_INFINITY : ms;
}
