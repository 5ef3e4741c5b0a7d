// The rules of NodeTracingPolicy that a JSON schema keyword cannot say, written as CEL
// (x-kubernetes-validations) so that the API server enforces them at `kubectl apply` and
// `kto validate` evaluates the very same text (src/cel). Only functions a Kubernetes 1.25+ API
// server has are used: the standard library, `matches` (RE2) and the strings extension
// (split, indexOf, substring).
//
// Regular expressions here are RE2 (Go) syntax, and CEL string literals are written with
// JSON.stringify, whose escapes CEL reads the same way.

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

const lit = (s: string): string => JSON.stringify(s);

// ---- names and labels (k8s.io/apimachinery/pkg/util/validation) --------------------------

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
/** RFC 1123 subdomain, as metadata.name and label key prefixes must be. */
export const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
export const NAME_PATTERN = `^${DNS1123_SUBDOMAIN}$`;
/** A label value: empty, or up to 63 alphanumerics, '-', '_', '.', starting and ending alphanumeric. */
export const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';
const QUALIFIED_NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const LABEL_KEY = `^(${DNS1123_SUBDOMAIN}/)?${QUALIFIED_NAME}$`;
const PREFIX_TOO_LONG = '^[^/]{254,}/';

/** CEL: is the string `k` a valid label key (qualified name with an optional DNS prefix)? */
function keyOk(k: string): string {
  return `(${k}.matches(${lit(LABEL_KEY)}) && !${k}.matches(${lit(PREFIX_TOO_LONG)}))`;
}

/** CEL: why the label key `k` is invalid (the prefix, or the name part). */
function keyProblem(k: string): string {
  const badPrefix = `${k}.contains('/') && (!${k}.matches(${lit(`^${DNS1123_SUBDOMAIN}/`)}) || ${k}.matches(${lit(PREFIX_TOO_LONG)}))`;
  const name = `(${k}.contains('/') ? ${k}.substring(${k}.indexOf('/') + 1) : ${k})`;
  return (
    `(${badPrefix} ? 'prefix "' + ${k}.split('/')[0] + '" must be a lowercase DNS subdomain of at most 253 characters'` +
    ` : 'name part "' + ${name} + '" must be 1-63 alphanumeric characters, \\'-\\', \\'_\\' or \\'.\\', starting and ending alphanumeric')`
  );
}

const KEY_RULE = 'label keys must be qualified names: an optional lowercase DNS subdomain prefix (at most 253 characters) and "/", then 1-63 alphanumeric characters, \'-\', \'_\' or \'.\', starting and ending alphanumeric';

// Every rule carries a plain `message` too: the server falls back to it when messageExpression
// fails, and docs/configuration.md shows it.
export const labelKeyRule: ValidationRule = { rule: keyOk('self'), message: KEY_RULE, messageExpression: keyProblem('self') };

/** CEL has no `let` before cel.bind (1.28+ only); `[v].map(x, body)[0]` binds `x` to `v` anywhere. */
const bind = (value: string, name: string, body: string): string => `[${value}].map(${name}, ${body})[0]`;

export const matchLabelsKeysRule: ValidationRule = {
  rule: `self.all(k, ${keyOk('k')})`,
  message: KEY_RULE,
  messageExpression: bind(`self.filter(k, !${keyOk('k')})[0]`, 'bad', `'key "' + bad + '": ' + ${keyProblem('bad')}`),
};

export const requirementValuesRule: ValidationRule = {
  rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
  message: 'In and NotIn need values; Exists and DoesNotExist take none',
  messageExpression: "(self.operator in ['In', 'NotIn'] ? 'must be non-empty' : 'must be empty') + ' when operator is ' + self.operator",
  fieldPath: '.values',
};

// ---- tracing.endpoint ---------------------------------------------------------------------
// The kubelet (component-base tracing/api/v1 validateEndpoint) prefixes "dns://" to a value
// without "//", parses it with Go's net/url and accepts the schemes dns, unix and unix-abstract.
// Its OTLP exporter hands the value to gRPC as a dial target (gRPC naming:
// https://github.com/grpc/grpc/blob/master/doc/naming.md): host:port, dns:[//authority/]host[:port],
// unix:path, unix:///absolute_path, unix-abstract:name. We accept the forms that pass the kubelet
// and mean something to gRPC, with a port from 1 to 65535 wherever a port is written.

const PORT = '0*([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';
// Host characters Go's url.Parse accepts in a host (unreserved and sub-delims, any non-ASCII),
// or a bracketed IPv6 address. No "%" (Go allows it only for non-ASCII bytes) and no "@".
const HOST = "(\\[[0-9A-Fa-f:.]+\\]|[-A-Za-z0-9._~!$&'()*+,;=\\x{80}-\\x{10FFFF}]+)";
const HOST_PORT = `${HOST}(:${PORT})?`;
/** Forms whose host:port we check: bare host[:port][/...], dns:host:port (the kubelet reads dns:host as
 *  host "dns" with port "host"), dns://[server]/host[:port]. */
const HOST_PORT_FORMS = `^(${HOST_PORT}([/?#].*)?|(?i:dns):${HOST}:${PORT}|(?i:dns)://(${HOST_PORT})?/${HOST_PORT})$`;
const SCHEME = '^[A-Za-z][-A-Za-z0-9+.]*:';
const GOOD_SCHEME = '^(?i:dns|unix|unix-abstract):';
const DNS_NO_TARGET = '^(?i:dns)://[^/]*/?$';
const UNIX_ANY = '^(?i:unix|unix-abstract):';
const UNIX_OK = '^((?i:unix):/[^/]|(?i:unix|unix-abstract):///[^/])';
const CONTROL = '[\\x00-\\x20\\x7f-\\x{9f}\\p{Z}\\x{feff}]';
const BAD_ESCAPE = '%([0-9A-Fa-f][^0-9A-Fa-f]|[0-9A-Fa-f]$|[^0-9A-Fa-f]|$)';
const TWO_COLONS = '^[^/?#\\[]*:[^/?#\\[]*:';

const USE = '(use host:port, dns:///host:port or unix:///path)';
const HOST_PORT_MESSAGE = 'must be host[:port] with a port from 1 to 65535, [IPv6 address]:port, dns:///host[:port] or dns:host:port';
/** CEL: the host[:port] part of the value: the target after dns://[server]/ or dns:, else up to the first "/". */
const HOST_PART =
  "(self.matches('^(?i:dns)://') ? " + bind("self.substring(6)", 'rest', "rest.substring(rest.indexOf('/') + 1)") + " : self.matches('^(?i:dns):') ? self.substring(4) : self).split('/')[0]";
/** CEL message: what is wrong with the port of the host part `hp` (bound), else the general form. */
const PORT_MESSAGE = bind(
  HOST_PART,
  'hp',
  bind(
    "hp.substring(hp.lastIndexOf(':') + 1)",
    'port',
    `!hp.contains(':') ? '${HOST_PORT_MESSAGE}'` +
      ` : !port.matches('^[0-9]+$') ? 'port "' + port + '" must be a number from 1 to 65535'` +
      ` : !port.matches(${lit(`^${PORT}$`)}) ? 'port ' + port + ' must be from 1 to 65535' : '${HOST_PORT_MESSAGE}'`,
  ),
);

export const endpointRules: ValidationRule[] = [
  { rule: `!self.matches(${lit(CONTROL)})`, message: 'must not contain whitespace or control characters' },
  { rule: `!self.matches(${lit(BAD_ESCAPE)})`, message: 'must not have a "%" that does not start a percent-escape (%XX)' },
  {
    rule: `!self.contains('//') || self.matches(${lit(GOOD_SCHEME)})`,
    message: `the scheme must be dns, unix or unix-abstract: the kubelet exports OTLP over gRPC ${USE}`,
    messageExpression:
      `self.matches(${lit(SCHEME)}) ? 'scheme "' + self.split(':')[0] + '" is not accepted by the kubelet, which exports OTLP over gRPC ${USE}'` +
      ` : 'a value with "//" must start with dns:, unix: or unix-abstract: ${USE}'`,
  },
  {
    rule: `!self.matches(${lit(DNS_NO_TARGET)})`,
    message: 'dns://host:port names a DNS server and no target: write dns:///host:port',
    messageExpression:
      `self.substring(6).split('/')[0] == '' ? 'names no target: write dns:///host:port'` +
      ` : 'names the DNS server "' + self.substring(6).split('/')[0] + '" and no target (gRPC reads dns://server/host:port); write dns:///' + self.substring(6).split('/')[0]`,
  },
  {
    rule: `!self.matches(${lit(UNIX_ANY)}) || self.matches(${lit(UNIX_OK)})`,
    message: 'a unix socket is unix:///path or unix:/path, an abstract one unix-abstract:///name',
    messageExpression:
      `self.matches('^(?i:unix-abstract):[^/]') ? 'the kubelet reads a value without "//" as dns://' + self + ' and rejects it; it accepts an abstract socket only as unix-abstract:///NAME (which gRPC dials as the abstract name "/NAME")'` +
      ` : self.matches('^(?i:unix|unix-abstract)://[^/]') ? 'gRPC reads the text after ' + self.split(':')[0] + ':// as an authority and refuses it; write ' + self.split(':')[0] + ':///' + self.substring(self.indexOf('//') + 2)` +
      ` : 'a unix socket needs an absolute path: unix:///path or unix:/path'`,
  },
  {
    rule: `self.matches(${lit(UNIX_ANY)}) || self.matches(${lit(DNS_NO_TARGET)}) || (self.contains('//') && !self.matches('^(?i:dns):')) || self.matches(${lit(HOST_PORT_FORMS)})`,
    message: HOST_PORT_MESSAGE,
    messageExpression: `self.matches(${lit(TWO_COLONS)}) && !self.matches('^(?i:dns):') ? 'has more than one ":" in its host (bracket IPv6 addresses: [::1]:4317)' : ${PORT_MESSAGE}`,
  },
];
