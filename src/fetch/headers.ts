import { UserError } from '../errors.js';

/**
 * `--http-headers` / FALCOCTL_DRIVER_HTTP_HEADERS: `Name: value,Other: value` (falcoctl's format). falcoctl
 * panicked on an item without `:` (falcoctl-driver.md §11.7); here it is a clear error.
 */
export function parseHeaderList(text: string | undefined): Array<[string, string]> {
  if (text === undefined || text.trim() === '') return [];
  return text
    .split(',')
    .filter((item) => item.trim() !== '')
    .map((item) => {
      const colon = item.indexOf(':');
      const name = colon < 0 ? '' : item.slice(0, colon).trim();
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
        throw new UserError(
          `Invalid HTTP header "${item.trim().slice(0, 64)}" in --http-headers: write them as 'Name: value,Other: value'`,
        );
      }
      return [name, item.slice(colon + 1).trim()] as [string, string];
    });
}
