import { redactUrl } from '../artifact/plan.js';

/**
 * The one place the dry-run JSON, the checksum messages and the mirror mode hide credentials (issue 19). Issue 13
 * centralises redaction; when it lands, this file is the only one to point at the new helper.
 *
 * `user:password@` anywhere in the text (a URL inside a falcoctl argument, say), not only at its start.
 */
export function redact(text: string): string {
  return redactUrl(text).replace(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/@\s]*@/g, '$1***@');
}
