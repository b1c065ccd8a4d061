/** A user-supplied value inside a message: quoted, control characters escaped, cut short if long. */
export function quoted(value: string, max = 64): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut);
}
