// OpenAPI schemas of the built-in kinds in ./builtin-kinds.ts, for `kubectl explain` and for the
// server's unknown-field check (fieldValidation=Strict). An object with `properties` and no
// `x-kubernetes-preserve-unknown-fields` lists every field the real type has; deeper structures
// this server does not interpret are left open (preserve-unknown-fields) rather than guessed.

import type { JsonObject } from './types.js';

const OBJECT_META_REF = '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

const str = (description: string, extra: JsonObject = {}): JsonObject => ({ type: 'string', description, ...extra });
const int = (description: string, format = 'int32'): JsonObject => ({ type: 'integer', format, description });
const bool = (description: string): JsonObject => ({ type: 'boolean', description });
const strMap = (description: string): JsonObject => ({ type: 'object', description, additionalProperties: { type: 'string' } });
const strList = (description: string, atomic = true): JsonObject => ({ type: 'array', description, items: { type: 'string' }, ...(atomic ? { 'x-kubernetes-list-type': 'atomic' } : {}) });
const intOrString = (description: string): JsonObject => ({ description, 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] });
const open = (description: string): JsonObject => ({ type: 'object', description, 'x-kubernetes-preserve-unknown-fields': true });
const obj = (description: string, properties: JsonObject, required: string[] = []): JsonObject => ({ type: 'object', description, properties, ...(required.length ? { required } : {}) });
const list = (description: string, items: JsonObject, mergeKey?: string, strategy = 'merge'): JsonObject => ({
  type: 'array',
  description,
  items,
  ...(mergeKey ? { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': [mergeKey], 'x-kubernetes-patch-merge-key': mergeKey, 'x-kubernetes-patch-strategy': strategy } : { 'x-kubernetes-list-type': 'atomic' }),
});
const meta = (description = "Standard object's metadata."): JsonObject => ({ description, allOf: [{ $ref: OBJECT_META_REF }], default: {} });

const labelSelector = (description: string): JsonObject =>
  obj(description, {
    matchLabels: strMap('matchLabels is a map of {key,value} pairs.'),
    matchExpressions: list('matchExpressions is a list of label selector requirements. The requirements are ANDed.', obj('A label selector requirement.', { key: str('The label key that the selector applies to.'), operator: str("Valid operators are In, NotIn, Exists and DoesNotExist."), values: strList('An array of string values.') }, ['key', 'operator'])),
  });
const localRef = obj('LocalObjectReference contains enough information to let you locate the referenced object inside the same namespace.', { name: str('Name of the referent.') });

const containerPort = obj('ContainerPort represents a network port in a single container.', {
  name: str('An IANA_SVC_NAME for this port.'),
  hostPort: int('Number of port to expose on the host.'),
  containerPort: int("Number of port to expose on the pod's IP address."),
  protocol: str('Protocol for port. Must be UDP, TCP, or SCTP. Defaults to "TCP".'),
  hostIP: str('What host IP to bind the external port to.'),
}, ['containerPort']);

const envVar = obj('EnvVar represents an environment variable present in a Container.', {
  name: str('Name of the environment variable.'),
  value: str('Variable references $(VAR_NAME) are expanded using the previously defined environment variables.'),
  valueFrom: open("Source for the environment variable's value (fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef)."),
}, ['name']);

const volumeMount = obj('VolumeMount describes a mounting of a Volume within a container.', {
  name: str('This must match the Name of a Volume.'),
  readOnly: bool('Mounted read-only if true, read-write otherwise.'),
  recursiveReadOnly: str('RecursiveReadOnly specifies whether read-only mounts should be handled recursively.'),
  mountPath: str('Path within the container at which the volume should be mounted.'),
  subPath: str("Path within the volume from which the container's volume should be mounted."),
  mountPropagation: str('mountPropagation determines how mounts are propagated from the host to container and the other way around.'),
  subPathExpr: str("Expanded path within the volume from which the container's volume should be mounted."),
}, ['name', 'mountPath']);

function container(description: string): JsonObject {
  return obj(description, {
    name: str('Name of the container specified as a DNS_LABEL.'),
    image: str('Container image name.'),
    command: strList('Entrypoint array. Not executed within a shell.'),
    args: strList('Arguments to the entrypoint.'),
    workingDir: str("Container's working directory."),
    ports: list('List of ports to expose from the container.', containerPort, 'containerPort'),
    envFrom: list('List of sources to populate environment variables in the container.', open('EnvFromSource represents the source of a set of ConfigMaps or Secrets.')),
    env: list('List of environment variables to set in the container.', envVar, 'name'),
    resources: open('Compute Resources required by this container.'),
    resizePolicy: list('Resources resize policy for the container.', open('ContainerResizePolicy represents resource resize policy for the container.')),
    restartPolicy: str('RestartPolicy defines the restart behavior of individual containers in a pod.'),
    restartPolicyRules: list('Represents a list of rules to be checked to determine if the container should be restarted on exit.', open('ContainerRestartRule')),
    volumeMounts: list("Pod volumes to mount into the container's filesystem.", volumeMount, 'mountPath'),
    volumeDevices: list('volumeDevices is the list of block devices to be used by the container.', open('volumeDevice describes a mapping of a raw block device within a container.'), 'devicePath'),
    livenessProbe: open('Periodic probe of container liveness.'),
    readinessProbe: open('Periodic probe of container service readiness.'),
    startupProbe: open('StartupProbe indicates that the Pod has successfully initialized.'),
    lifecycle: open('Actions that the management system should take in response to container lifecycle events.'),
    terminationMessagePath: str("Path at which the file to which the container's termination message will be written is mounted."),
    terminationMessagePolicy: str('Indicate how the termination message should be populated.'),
    imagePullPolicy: str('Image pull policy. One of Always, Never, IfNotPresent.'),
    securityContext: open('SecurityContext defines the security options the container should be run with.'),
    stdin: bool('Whether this container should allocate a buffer for stdin in the container runtime.'),
    stdinOnce: bool('Whether the container runtime should close the stdin channel after it has been opened by a single attach.'),
    tty: bool('Whether this container should allocate a TTY for itself.'),
  }, ['name']);
}

const volume = obj('Volume represents a named volume in a pod that may be accessed by any container in the pod.', {
  name: str("name of the volume. Must be a DNS_LABEL and unique within the pod."),
  ...Object.fromEntries(
    ['hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi', 'glusterfs', 'persistentVolumeClaim', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc', 'azureFile', 'configMap', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected', 'portworxVolume', 'scaleIO', 'storageos', 'csi', 'ephemeral', 'image'].map((k) => [k, open(`${k} volume source.`)]),
  ),
}, ['name']);

const podSpec = obj('PodSpec is a description of a pod.', {
  volumes: { ...list('List of volumes that can be mounted by containers belonging to the pod.', volume, 'name', 'merge,retainKeys') },
  initContainers: list('List of initialization containers belonging to the pod.', container('A single application container that you want to run within a pod.'), 'name'),
  containers: list('List of containers belonging to the pod.', container('A single application container that you want to run within a pod.'), 'name'),
  ephemeralContainers: list('List of ephemeral containers run in this pod.', open('An EphemeralContainer is a temporary container.'), 'name'),
  restartPolicy: str('Restart policy for all containers within the pod. One of Always, OnFailure, Never.'),
  terminationGracePeriodSeconds: int('Optional duration in seconds the pod needs to terminate gracefully.', 'int64'),
  activeDeadlineSeconds: int('Optional duration in seconds the pod may be active on the node.', 'int64'),
  dnsPolicy: str("Set DNS policy for the pod. Defaults to \"ClusterFirst\"."),
  nodeSelector: strMap("NodeSelector is a selector which must be true for the pod to fit on a node."),
  serviceAccountName: str('ServiceAccountName is the name of the ServiceAccount to use to run this pod.'),
  serviceAccount: str('DeprecatedServiceAccount is a deprecated alias for ServiceAccountName.'),
  automountServiceAccountToken: bool('AutomountServiceAccountToken indicates whether a service account token should be automatically mounted.'),
  nodeName: str('NodeName indicates in which node this pod is scheduled.'),
  hostNetwork: bool("Host networking requested for this pod."),
  hostPID: bool("Use the host's pid namespace."),
  hostIPC: bool("Use the host's ipc namespace."),
  shareProcessNamespace: bool('Share a single process namespace between all of the containers in a pod.'),
  securityContext: open('SecurityContext holds pod-level security attributes and common container settings.'),
  imagePullSecrets: list('ImagePullSecrets is an optional list of references to secrets in the same namespace to use for pulling any of the images.', localRef, 'name'),
  hostname: str("Specifies the hostname of the Pod."),
  subdomain: str('If specified, the fully qualified Pod hostname will be "<hostname>.<subdomain>.<pod namespace>.svc.<cluster domain>".'),
  affinity: open("If specified, the pod's scheduling constraints."),
  schedulerName: str('If specified, the pod will be dispatched by specified scheduler.'),
  tolerations: list("If specified, the pod's tolerations.", open('The pod this Toleration is attached to tolerates any taint that matches the triple <key,value,effect>.')),
  hostAliases: list("HostAliases is an optional list of hosts and IPs that will be injected into the pod's hosts file.", open('HostAlias holds the mapping between IP and hostnames.'), 'ip'),
  priorityClassName: str("If specified, indicates the pod's priority."),
  priority: int('The priority value.'),
  dnsConfig: open('Specifies the DNS parameters of a pod.'),
  readinessGates: list('If specified, all readiness gates will be evaluated for pod readiness.', open('PodReadinessGate contains the reference to a pod condition')),
  runtimeClassName: str('RuntimeClassName refers to a RuntimeClass object in the node.k8s.io group.'),
  enableServiceLinks: bool("EnableServiceLinks indicates whether information about services should be injected into pod's environment variables."),
  preemptionPolicy: str('PreemptionPolicy is the Policy for preempting pods with lower priority.'),
  overhead: open('Overhead represents the resource overhead associated with running a pod for a given RuntimeClass.'),
  topologySpreadConstraints: list('TopologySpreadConstraints describes how a group of pods ought to spread across topology domains.', open('TopologySpreadConstraint specifies how to spread matching pods among the given topology.'), 'topologyKey'),
  setHostnameAsFQDN: bool("If true the pod's hostname will be configured as the pod's FQDN."),
  os: open('Specifies the OS of the containers in the pod.'),
  hostUsers: bool('Use the host\'s user namespace.'),
  schedulingGates: list('SchedulingGates is an opaque list of values that if specified will block scheduling the pod.', open('PodSchedulingGate is associated to a Pod to guard its scheduling.'), 'name'),
  resourceClaims: list('ResourceClaims defines which ResourceClaims must be allocated and reserved before the Pod is allowed to start.', open('PodResourceClaim references exactly one ResourceClaim.'), 'name', 'merge,retainKeys'),
  resources: open('Resources is the total amount of CPU and Memory resources required by all containers in the pod.'),
  hostnameOverride: str('HostnameOverride specifies an explicit override for the pod\'s hostname as perceived by the pod.'),
}, ['containers']);

const podTemplate = obj('PodTemplateSpec describes the data a pod should have when created from a template', { metadata: meta("Standard object's metadata."), spec: podSpec });

const deploymentSpec = obj('DeploymentSpec is the specification of the desired behavior of the Deployment.', {
  replicas: int('Number of desired pods. Defaults to 1.'),
  selector: labelSelector('Label selector for pods. It must match the pod template\'s labels.'),
  template: podTemplate,
  strategy: { ...obj('The deployment strategy to use to replace existing pods with new ones.', { type: str('Type of deployment. Can be "Recreate" or "RollingUpdate". Default is RollingUpdate.'), rollingUpdate: obj('Rolling update config params.', { maxUnavailable: intOrString('The maximum number of pods that can be unavailable during the update.'), maxSurge: intOrString('The maximum number of pods that can be scheduled above the desired number of pods.') }) }), 'x-kubernetes-patch-strategy': 'retainKeys' },
  minReadySeconds: int('Minimum number of seconds for which a newly created pod should be ready without any of its container crashing.'),
  revisionHistoryLimit: int('The number of old ReplicaSets to retain to allow rollback. Defaults to 10.'),
  paused: bool('Indicates that the deployment is paused.'),
  progressDeadlineSeconds: int('The maximum time in seconds for a deployment to make progress before it is considered to be failed.'),
}, ['selector', 'template']);

const daemonSetSpec = obj('DaemonSetSpec is the specification of a daemon set.', {
  selector: labelSelector('A label query over pods that are managed by the daemon set.'),
  template: podTemplate,
  updateStrategy: obj('An update strategy to replace existing DaemonSet pods with new pods.', { type: str('Type of daemon set update. Can be "RollingUpdate" or "OnDelete". Default is RollingUpdate.'), rollingUpdate: obj('Rolling update config params.', { maxUnavailable: intOrString('The maximum number of DaemonSet pods that can be unavailable during the update.'), maxSurge: intOrString('The maximum number of nodes with an existing available DaemonSet pod that can have an updated DaemonSet pod during an update.') }) }),
  minReadySeconds: int('The minimum number of seconds for which a newly created DaemonSet pod should be ready without any of its container crashing.'),
  revisionHistoryLimit: int('The number of old history to retain to allow rollback. Defaults to 10.'),
}, ['selector', 'template']);

const servicePort = obj("ServicePort contains information on service's port.", {
  name: str('The name of this port within the service.'),
  protocol: str('The IP protocol for this port. Supports "TCP", "UDP", and "SCTP". Default is TCP.'),
  appProtocol: str('The application protocol for this port.'),
  port: int('The port that will be exposed by this service.'),
  targetPort: intOrString('Number or name of the port to access on the pods targeted by the service.'),
  nodePort: int('The port on each node on which this service is exposed when type is NodePort or LoadBalancer.'),
}, ['port']);

const serviceSpec = obj('ServiceSpec describes the attributes that a user creates on a service.', {
  ports: { ...list('The list of ports that are exposed by this service.', servicePort, 'port'), 'x-kubernetes-list-map-keys': ['port', 'protocol'] },
  selector: strMap('Route service traffic to pods with label keys and values matching this selector.'),
  clusterIP: str('clusterIP is the IP address of the service and is usually assigned randomly.'),
  clusterIPs: strList('ClusterIPs is a list of IP addresses assigned to this service.'),
  type: str('type determines how the Service is exposed. Defaults to ClusterIP.'),
  externalIPs: strList('externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
  sessionAffinity: str('Supports "ClientIP" and "None". Defaults to None.'),
  loadBalancerIP: str('Only applies to Service Type: LoadBalancer.'),
  loadBalancerSourceRanges: strList('If specified and supported by the platform, traffic through the cloud-provider load-balancer will be restricted to the specified client IPs.'),
  externalName: str('externalName is the external reference that discovery mechanisms will return as an alias for this service.'),
  externalTrafficPolicy: str('externalTrafficPolicy describes how nodes distribute service traffic they receive on one of the Service\'s "externally-facing" addresses.'),
  healthCheckNodePort: int('healthCheckNodePort specifies the healthcheck nodePort for the service.'),
  publishNotReadyAddresses: bool('publishNotReadyAddresses indicates that any agent which deals with endpoints for this Service should disregard any indications of ready/not-ready.'),
  sessionAffinityConfig: open('sessionAffinityConfig contains the configurations of session affinity.'),
  ipFamilies: strList('IPFamilies is a list of IP families (e.g. IPv4, IPv6) assigned to this service.'),
  ipFamilyPolicy: str('IPFamilyPolicy represents the dual-stack-ness requested or required by this Service.'),
  allocateLoadBalancerNodePorts: bool('allocateLoadBalancerNodePorts defines if NodePorts will be automatically allocated for services with type LoadBalancer.'),
  loadBalancerClass: str('loadBalancerClass is the class of the load balancer implementation this Service belongs to.'),
  internalTrafficPolicy: str('InternalTrafficPolicy describes how nodes distribute service traffic they receive on the ClusterIP.'),
  trafficDistribution: str('TrafficDistribution offers a way to express preferences for how traffic is distributed to Service endpoints.'),
});

const policyRule = obj('PolicyRule holds information that describes a policy rule, but does not contain information about who the rule applies to or which namespace the rule applies to.', {
  verbs: strList("Verbs is a list of Verbs that apply to ALL the ResourceKinds contained in this rule. '*' represents all verbs."),
  apiGroups: strList('APIGroups is the name of the APIGroup that contains the resources. "" represents the core API group and "*" represents all API groups.'),
  resources: strList("Resources is a list of resources this rule applies to. '*' represents all resources."),
  resourceNames: strList('ResourceNames is an optional white list of names that the rule applies to. An empty set means that everything is allowed.'),
  nonResourceURLs: strList('NonResourceURLs is a set of partial urls that a user should have access to. *s are allowed, but only as the full, final step in the path.'),
}, ['verbs']);

const subject = obj('Subject contains a reference to the object or user identities a role binding applies to.', {
  kind: str('Kind of object being referenced. Values defined by this API group are "User", "Group", and "ServiceAccount".'),
  apiGroup: str('APIGroup holds the API group of the referenced subject. Defaults to "" for ServiceAccount subjects. Defaults to "rbac.authorization.k8s.io" for User and Group subjects.'),
  name: str('Name of the object being referenced.'),
  namespace: str('Namespace of the referenced object.'),
}, ['kind', 'name']);

const roleRef = obj('RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.', {
  apiGroup: str('APIGroup is the group for the resource being referenced'),
  kind: str('Kind is the type of resource being referenced'),
  name: str('Name is the name of resource being referenced'),
}, ['apiGroup', 'kind', 'name']);

const namedRule = obj('NamedRuleWithOperations is a tuple of Operations and Resources with ResourceNames.', {
  resourceNames: strList('ResourceNames is an optional white list of names that the rule applies to.'),
  operations: strList("Operations is the operations the admission hook cares about - CREATE, UPDATE, DELETE, CONNECT or * for all of those operations and any future admission operations that are added."),
  apiGroups: strList('APIGroups is the API groups the resources belong to. \'*\' is all groups.'),
  apiVersions: strList("APIVersions is the API versions the resources belong to. '*' is all versions."),
  resources: strList("Resources is a list of resources this rule applies to."),
  scope: str('scope specifies the scope of this rule. Valid values are "Cluster", "Namespaced", and "*".'),
});

const matchResources = obj('MatchResources decides whether to run the admission control policy on an object based on whether it meets the match criteria.', {
  namespaceSelector: labelSelector('NamespaceSelector decides whether to run the admission control policy on an object based on whether the namespace for that object matches the selector.'),
  objectSelector: labelSelector('ObjectSelector decides whether to run the validation based on if the object has matching labels.'),
  resourceRules: list('ResourceRules describes what operations on what resources/subresources the ValidatingAdmissionPolicy matches.', namedRule),
  excludeResourceRules: list('ExcludeResourceRules describes what operations on what resources/subresources the ValidatingAdmissionPolicy should not care about.', namedRule),
  matchPolicy: str('matchPolicy defines how the "MatchResources" list is used to match incoming requests. Allowed values are "Exact" or "Equivalent".'),
});

const expressionItem = (description: string): JsonObject => obj(description, { name: str('Name.'), expression: str('A CEL expression.') }, ['name', 'expression']);

const vapSpec = obj('ValidatingAdmissionPolicySpec is the specification of the desired behavior of the AdmissionPolicy.', {
  paramKind: obj('ParamKind specifies the kind of resources used to parameterize this policy', { apiVersion: str('APIVersion is the API group version the resources belong to.'), kind: str('Kind is the API kind the resources belong to.') }),
  matchConstraints: matchResources,
  validations: list('Validations contain CEL expressions which is used to apply the validation.', obj('Validation specifies the CEL expression which is used to apply the validation.', { expression: str('Expression represents the expression which will be evaluated by CEL.'), message: str('Message represents the message displayed when validation fails.'), reason: str('Reason represents a machine-readable description of why this validation failed.'), messageExpression: str('messageExpression declares a CEL expression that evaluates to the validation failure message that is returned when this rule fails.') }, ['expression'])),
  failurePolicy: str('failurePolicy defines how to handle failures for the admission policy. Allowed values are Ignore or Fail. Defaults to Fail.'),
  auditAnnotations: list('auditAnnotations contains CEL expressions which are used to produce audit annotations for the audit event of the API request.', obj('AuditAnnotation describes how to produce an audit annotation for an API request.', { key: str('key specifies the audit annotation key.'), valueExpression: str('valueExpression represents the expression which is evaluated by CEL to produce an audit annotation value.') }, ['key', 'valueExpression'])),
  matchConditions: list('MatchConditions is a list of conditions that must be met for a request to be validated.', expressionItem('MatchCondition represents a condition which must by fulfilled for a request to be sent to a webhook.'), 'name'),
  variables: list('Variables contain definitions of variables that can be used in composition of other expressions.', expressionItem('Variable is the definition of a variable that is used for composition.')),
});

const vapbSpec = obj('ValidatingAdmissionPolicyBindingSpec is the specification of the ValidatingAdmissionPolicyBinding.', {
  policyName: str('PolicyName references a ValidatingAdmissionPolicy name which the ValidatingAdmissionPolicyBinding binds to.'),
  paramRef: obj('paramRef specifies the parameter resource used to configure the admission control policy.', { name: str('name is the name of the resource being referenced.'), namespace: str('namespace is the namespace of the referenced resource.'), selector: labelSelector('selector can be used to match multiple param objects based on their labels.'), parameterNotFoundAction: str('parameterNotFoundAction controls the behavior of the binding when the resource exists, and name or selector is valid, but there are no parameters matched by the binding.') }),
  matchResources: matchResources,
  validationActions: strList('validationActions declares how Validations of the referenced ValidatingAdmissionPolicy are enforced. Allowed values are Deny, Warn and Audit.', false),
});

/** Top-level fields (besides apiVersion, kind, metadata) of each built-in kind, keyed `group/Kind`. */
export const BUILTIN_SCHEMAS: Record<string, { description: string; properties: JsonObject; required?: string[] }> = {
  '/ServiceAccount': {
    description: 'ServiceAccount binds together: * a name, understood by users, and perhaps by peripheral systems, for an identity * a principal that can be authenticated and authorized * a set of secrets',
    properties: {
      secrets: list('Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.', open('ObjectReference contains enough information to let you inspect or modify the referred object.'), 'name'),
      imagePullSecrets: list('ImagePullSecrets is a list of references to secrets in the same namespace to use for pulling any images in pods that reference this ServiceAccount.', localRef),
      automountServiceAccountToken: bool('AutomountServiceAccountToken indicates whether pods running as this service account should have an API token automatically mounted.'),
    },
  },
  '/Service': {
    description: 'Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.',
    properties: { spec: serviceSpec, status: open('Most recently observed status of the service.') },
  },
  '/Secret': {
    description: 'Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.',
    properties: {
      data: { type: 'object', description: 'Data contains the secret data. Each key must consist of alphanumeric characters, \'-\', \'_\' or \'.\'. The serialized form of the secret data is a base64 encoded string.', additionalProperties: { type: 'string', format: 'byte' } },
      stringData: strMap('stringData allows specifying non-binary secret data in string form. It is provided as a write-only input field for convenience. All keys and values are merged into the data field on write, overwriting any existing values.'),
      type: str('Used to facilitate programmatic handling of secret data.'),
      immutable: bool('Immutable, if set to true, ensures that data stored in the Secret cannot be updated (only object metadata can be modified).'),
    },
  },
  'apps/Deployment': { description: 'Deployment enables declarative updates for Pods and ReplicaSets.', properties: { spec: deploymentSpec, status: open('Most recently observed status of the Deployment.') } },
  'apps/DaemonSet': { description: 'DaemonSet represents the configuration of a daemon set.', properties: { spec: daemonSetSpec, status: open('The current status of this daemon set.') } },
  'policy/PodDisruptionBudget': {
    description: 'PodDisruptionBudget is an object to define the max disruption that can be caused to a collection of pods',
    properties: {
      spec: obj('PodDisruptionBudgetSpec is a description of a PodDisruptionBudget.', {
        minAvailable: intOrString('An eviction is allowed if at least "minAvailable" pods selected by "selector" will still be available after the eviction.'),
        selector: labelSelector('Label query over pods whose evictions are managed by the disruption budget.'),
        maxUnavailable: intOrString('An eviction is allowed if at most "maxUnavailable" pods selected by "selector" are unavailable after the eviction.'),
        unhealthyPodEvictionPolicy: str('UnhealthyPodEvictionPolicy defines the criteria for when unhealthy pods should be considered for eviction.'),
      }),
      status: open('Most recently observed status of the PodDisruptionBudget.'),
    },
  },
  'rbac.authorization.k8s.io/Role': { description: 'Role is a namespaced, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding.', properties: { rules: list('Rules holds all the PolicyRules for this Role', policyRule) } },
  'rbac.authorization.k8s.io/ClusterRole': {
    description: 'ClusterRole is a cluster level, logical grouping of PolicyRules that can be referenced as a unit by a RoleBinding or ClusterRoleBinding.',
    properties: { rules: list('Rules holds all the PolicyRules for this ClusterRole', policyRule), aggregationRule: obj('AggregationRule is an optional field that describes how to build the Rules for this ClusterRole.', { clusterRoleSelectors: list('ClusterRoleSelectors holds a list of selectors which will be used to find ClusterRoles and create the rules.', labelSelector('A label selector.')) }) },
  },
  'rbac.authorization.k8s.io/RoleBinding': { description: 'RoleBinding references a role, but does not contain it. It can reference a Role in the same namespace or a ClusterRole in the global namespace.', properties: { subjects: list('Subjects holds references to the objects the role applies to.', subject), roleRef }, required: ['roleRef'] },
  'rbac.authorization.k8s.io/ClusterRoleBinding': { description: 'ClusterRoleBinding references a ClusterRole, but not contain it. It can reference a ClusterRole in the global namespace, and adds who information via Subject.', properties: { subjects: list('Subjects holds references to the objects the role applies to.', subject), roleRef }, required: ['roleRef'] },
  'admissionregistration.k8s.io/ValidatingAdmissionPolicy': { description: 'ValidatingAdmissionPolicy describes the definition of an admission validation policy that accepts or rejects an object without changing it.', properties: { spec: vapSpec, status: open('The status of the ValidatingAdmissionPolicy, including warnings that are useful to determine if the policy behaves in the expected way.') } },
  'admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding': { description: 'ValidatingAdmissionPolicyBinding binds the ValidatingAdmissionPolicy with paramerized resources.', properties: { spec: vapbSpec } },
};
