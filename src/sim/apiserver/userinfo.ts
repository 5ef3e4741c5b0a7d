// Who is making a request, as the authenticator resolved it (k8s.io/apiserver user.Info). The
// authorizer (RBAC) and admission (ValidatingAdmissionPolicy `request.userInfo`) both read it.

export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  /** e.g. `authentication.kubernetes.io/node-name` for a token bound to a Node or Pod (KEP-4193). */
  extra?: Record<string, string[]>;
}

/** In-process callers (tests, the simulated kubelets) act as a cluster admin. */
export const IN_PROCESS_ADMIN: UserInfo = { username: 'system:admin', groups: ['system:masters', 'system:authenticated'] };
