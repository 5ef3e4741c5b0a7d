// The kubelet's rule for tracing.endpoint (component-base tracing/api/v1 ValidateTracingConfiguration),
// plus the stricter checks we add so that nothing we push can surprise the kubelet.

const ACCEPTED_SCHEMES = ['dns', 'unix', 'unix-abstract'];

/** Returns undefined when the endpoint is acceptable, else the reason. */
export function endpointProblem(endpoint: string): string | undefined {
  // Stricter than the kubelet: Go's url.Parse and WHATWG URL disagree on odd input; refuse it.
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(endpoint)) return 'must not contain whitespace or control characters';
  if (/%(?![0-9A-Fa-f]{2})/.test(endpoint)) return 'has a "%" that is not a valid percent-escape';
  // The kubelet reads a value without "//" as a gRPC dns target.
  const url = endpoint.includes('//') ? endpoint : `dns://${endpoint}`;
  const portProblem = authorityPortProblem(url);
  if (portProblem) return portProblem;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" does not parse as a URL`;
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  if (!ACCEPTED_SCHEMES.includes(scheme)) {
    return `scheme "${scheme}" is not accepted by the kubelet (use host:port, dns://, unix://)`;
  }
  return undefined;
}

/** Where an authority carries a ":port", it must be a number 1..65535. */
function authorityPortProblem(url: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(url);
  const authority = m?.[1] ?? '';
  const hostPort = authority.includes('@') ? authority.slice(authority.lastIndexOf('@') + 1) : authority;
  const bracketEnd = hostPort.startsWith('[') ? hostPort.indexOf(']') : -1;
  const afterHost = bracketEnd >= 0 ? hostPort.slice(bracketEnd + 1) : hostPort;
  const colon = afterHost.lastIndexOf(':');
  if (colon < 0) return undefined;
  if (bracketEnd < 0 && afterHost.indexOf(':') !== colon) return 'has more than one ":" in its host (bracket IPv6 addresses)';
  const port = afterHost.slice(colon + 1);
  if (!/^[0-9]+$/.test(port)) return `port "${port}" must be a number from 1 to 65535`;
  const n = Number(port);
  if (n < 1 || n > 65535) return `port ${port} must be from 1 to 65535`;
  return undefined;
}
