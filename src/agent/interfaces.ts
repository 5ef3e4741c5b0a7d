// Injected edges of the node agent, so tests and the embedded cluster control them.

/** Restarts the kubelet. Production: `nsenter -t 1 -m -- systemctl restart kubelet`. */
export interface KubeletRestarter {
  restart(): Promise<void>;
}

/** Asks whether the kubelet is healthy now. Production: GET http://127.0.0.1:10248/healthz. */
export interface KubeletHealthProbe {
  healthy(): Promise<boolean>;
}

/**
 * Optional extension of KubeletHealthProbe: the kubelet's last start error, when the probe can
 * tell it (the simulated kubelet can; /healthz cannot). Used in rollback messages.
 */
export interface KubeletErrorSource {
  lastError?(): Promise<string | undefined>;
}

/**
 * Optional extension of KubeletHealthProbe, for a probe that is told rather than asked (the
 * simulated kubelet): resolves true as soon as the kubelet is healthy, false after timeoutMs.
 * The apply then waits on it instead of polling.
 */
export interface KubeletHealthWaiter {
  untilHealthy?(timeoutMs: number): Promise<boolean>;
}

export type KubeletHealthProbeWithError = KubeletHealthProbe & KubeletErrorSource & KubeletHealthWaiter;
