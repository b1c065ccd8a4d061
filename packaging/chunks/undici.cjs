// The part of undici the loader calls (src/fetch/download.ts, src/fetch/check.ts): request() through an explicit
// dispatcher, EnvHttpProxyAgent, the redirect interceptor. undici's own index also loads fetch, WebSocket, EventSource,
// cache stores and mocks: about 16 MB of peak RSS when evaluated, against ~8 MB for this (issue #17, measured with
// /usr/bin/time on Node 20). packaging/bundle.mjs builds it into the undici chunk.
const Dispatcher = require('undici/lib/dispatcher/dispatcher');
const api = require('undici/lib/api');
const EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent');
const redirect = require('undici/lib/interceptor/redirect');

// What undici's index does so that every dispatcher has request(), stream(), pipeline()…
Object.assign(Dispatcher.prototype, api);

/** undici.request(url, { dispatcher, ...options }) for a string URL: the only form the loader uses. */
function request(url, options) {
  const { dispatcher, ...rest } = options;
  if (dispatcher === undefined) throw new TypeError('the loader always passes its own dispatcher');
  const target = new URL(url);
  return api.request.call(dispatcher, {
    ...rest,
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
    method: rest.method || 'GET',
  });
}

module.exports = { EnvHttpProxyAgent, request, interceptors: { redirect } };
