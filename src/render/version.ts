// Kubelet versions as nodes report them in status.nodeInfo.kubeletVersion:
// "v1.29.3", "v1.30.1-eks-abc", "1.27.0+k3s1", "v1.31.2-gke.1200".

export interface KubeletVersion {
  major: number;
  minor: number;
  patch: number;
  raw: string;
}

const VERSION_RE = /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.+_-]*)?$/;

export function parseKubeletVersion(raw: string): KubeletVersion | undefined {
  const m = VERSION_RE.exec(raw.trim());
  if (!m) return undefined;
  const [, major, minor, patch] = m;
  return { major: Number(major), minor: Number(minor), patch: Number(patch ?? 0), raw };
}

/** Compares against a 1.x minor: <0 older, 0 same minor, >0 newer. */
export function compareMinor(v: KubeletVersion, major: number, minor: number): number {
  return v.major !== major ? v.major - major : v.minor - minor;
}

export function atLeast(v: KubeletVersion, minor: number): boolean {
  return compareMinor(v, 1, minor) >= 0;
}

export function formatMinor(v: KubeletVersion): string {
  return `v${v.major}.${v.minor}`;
}
