/**
 * The one place where what we print is cleared of secrets (issue #13): the user:password of a URL and the values
 * of HTTP headers. A URL is judged by the WHATWG parser (the one the downloads use), so whatever it takes as
 * credentials is hidden, however it was written: `user:p@ss@host` (userinfo ends at the last @), `http:user:pw@host`
 * (no slashes), percent-encoded. Text the parser refuses (a scheme-less `user:pw@host/x`) loses everything before
 * the last @ of its authority part.
 */
export const HIDDEN = '***';

/** A URL (or URL-like word) as it may be shown. */
export function redactUrl(text: string): string {
  if (!text.includes('@')) return text;
  if (URL.canParse(text)) {
    const url = new URL(text);
    if (url.username !== '' || url.password !== '') {
      return `${url.protocol}//${HIDDEN}@${url.host}${url.pathname}${url.search}${url.hash}`;
    }
  }
  // Not a URL the parser sees credentials in (`user:pw@host/x` parses as scheme "user"): hide up to the last @.
  return redactAuthority(text);
}

/** Every word of a free-text message (an error, a reason) that carries an @ before its path is redacted. */
export function redactText(text: string): string {
  return text.replace(/[^\s'"()<>,]*@[^\s'"()<>,]+/g, (word) => redactUrl(word));
}

/** `Name: value` pairs as shown: names kept (they say what was sent), values hidden. */
export function redactHeaders(headers: ReadonlyArray<readonly [string, string]>): string {
  return headers.map(([name]) => `${name}: ${HIDDEN}`).join(',');
}

/** A `--flag=value` argument as shown: a URL's credentials and header values hidden. */
export function redactArgument(arg: string): string {
  const eq = arg.indexOf('=');
  if (eq < 0) return redactText(arg);
  const [flag, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
  if (flag === '--http-headers') {
    return `${flag}=${value
      .split(',')
      .map((item) => `${item.split(':')[0]}: ${HIDDEN}`)
      .join(',')}`;
  }
  return `${flag}=${redactText(value)}`;
}

/** `scheme://user:pw@host/…` or `user:pw@host/…` with the part before the authority's last @ hidden. */
function redactAuthority(text: string): string {
  const scheme = /^((https?|ftp|wss?):(\/\/)?|[a-zA-Z][a-zA-Z0-9+.-]*:\/\/)/i.exec(text)?.[0] ?? '';
  const rest = text.slice(scheme.length);
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const at = authority.lastIndexOf('@');
  if (at < 0) return text;
  return `${scheme}${HIDDEN}${rest.slice(at)}`;
}
