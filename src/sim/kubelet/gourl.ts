// Go's net/url.Parse, as far as the kubelet's tracing endpoint check depends on it (control
// bytes, scheme, authority: userinfo, host characters, port digits, percent-escapes). The
// simulated kubelet must accept exactly what a real one accepts, and WHATWG's URL (Node's)
// differs: it refuses port 99999 and a colon in a host, which Go accepts, and accepts "{" in a
// host, which Go refuses. Errors read as Go prints them: `parse "dns://x:y": invalid port ":y" after host`.

function ishex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9A-Fa-f]$/.test(c);
}

/** net/url shouldEscape(c, encodeHost) for an ASCII byte. */
function hostCharNeedsEscape(c: string): boolean {
  if (/^[A-Za-z0-9]$/.test(c)) return false;
  return !"-_.~!$&'()*+,;=:[]<>\"".includes(c);
}

/** net/url unescape: validates %-escapes (and host characters in host mode). */
function unescapeProblem(s: string, host: boolean): string | undefined {
  for (let i = 0; i < s.length; ) {
    const c = s[i] ?? '';
    if (c === '%') {
      if (i + 2 >= s.length || !ishex(s[i + 1]) || !ishex(s[i + 2])) return `invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`;
      // In a host, %-encoding is only for non-ASCII bytes (and %25 in an IPv6 zone).
      if (host && parseInt(s[i + 1] ?? '0', 16) < 8 && s.slice(i, i + 3) !== '%25') return `invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`;
      i += 3;
      continue;
    }
    if (host && c.charCodeAt(0) < 0x80 && hostCharNeedsEscape(c)) return `invalid character ${JSON.stringify(c)} in host name`;
    i++;
  }
  return undefined;
}

function validOptionalPort(port: string): boolean {
  return port === '' || /^:[0-9]*$/.test(port);
}

function parseHost(host: string): string | undefined {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']');
    if (i < 0) return "missing ']' in host";
    const colonPort = host.slice(i + 1);
    if (!validOptionalPort(colonPort)) return `invalid port ${JSON.stringify(colonPort)} after host`;
  } else {
    const i = host.lastIndexOf(':');
    if (i !== -1 && !validOptionalPort(host.slice(i))) return `invalid port ${JSON.stringify(host.slice(i))} after host`;
  }
  return unescapeProblem(host, true);
}

function parseAuthority(authority: string): string | undefined {
  const at = authority.lastIndexOf('@');
  const hostProblem = parseHost(at < 0 ? authority : authority.slice(at + 1));
  if (hostProblem) return hostProblem;
  if (at >= 0 && !/^[-A-Za-z0-9._:~!$&'()*+,;=%@]*$/.test(authority.slice(0, at))) return 'net/url: invalid userinfo';
  return undefined;
}

/** The scheme (lower-cased) of `raw` as Go's url.Parse reads it, or the error Go returns. */
export function goUrlScheme(raw: string): { scheme: string } | { error: string } {
  const fail = (err: string, url = raw): { error: string } => ({ error: `parse ${JSON.stringify(url)}: ${err}` });
  const hash = raw.indexOf('#');
  const u = hash < 0 ? raw : raw.slice(0, hash);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(u)) return fail('net/url: invalid control character in URL', u);
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(u);
  if (u.startsWith(':')) return fail('missing protocol scheme', u);
  const scheme = m ? (m[1] ?? '').toLowerCase() : '';
  let rest = m ? u.slice(m[0].length) : u;
  const q = rest.indexOf('?');
  if (q >= 0) rest = rest.slice(0, q);
  if (!rest.startsWith('/')) {
    if (scheme !== '') return { scheme }; // opaque
    const segment = rest.split('/')[0] ?? '';
    if (segment.includes(':')) return fail('first path segment in URL cannot contain colon', u);
  }
  if ((scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    const authority = rest.slice(2);
    const slash = authority.indexOf('/');
    const problem = parseAuthority(slash < 0 ? authority : authority.slice(0, slash));
    if (problem) return fail(problem, u);
    rest = slash < 0 ? '' : authority.slice(slash);
  }
  const pathProblem = unescapeProblem(rest, false);
  if (pathProblem) return fail(pathProblem, u);
  if (hash >= 0) {
    const fragProblem = unescapeProblem(raw.slice(hash + 1), false);
    if (fragProblem) return fail(fragProblem);
  }
  return { scheme };
}
