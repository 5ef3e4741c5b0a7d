export { SimKubelet, type SimKubeletOptions, type SimKubeletStatus, type RestartRecord } from './kubelet.js';
export {
  loadKubeletConfig,
  validateKubeletConfig,
  jsonMergePatch,
  parseKubeletVersion,
  kubeletTracingStage,
  KUBELET_API_VERSION,
  KUBELET_KIND,
} from './config.js';
export { HOST_CONFIG_FILE, HOST_DROPIN_DIR, HOST_KUBECONFIG, initialKubeletConfig } from './layout.js';
