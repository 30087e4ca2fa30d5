/** The apps that ship as images, as the deployment files must describe them: a new app gets a row here. */
export interface DeployableApp {
  /** Nx project name: also the folder under apps/ and dist/apps/. */
  project: string;
  /** Its service in docker-compose.yml and its host in Prometheus's targets. */
  service: string;
  dockerfile: string;
  /** The variable of the app's env schema that holds its HTTP port (health, and later /metrics). */
  portVariable: string;
  healthPath: string;
  /** Key variables compose must require (the app's HTTP API never runs open in the stack). */
  requiredKeys: readonly string[];
}

export const DEPLOYABLE_APPS: readonly DeployableApp[] = [
  {
    project: 'gateway',
    service: 'gateway',
    dockerfile: 'apps/gateway/Dockerfile',
    portVariable: 'PORT',
    healthPath: '/health/live',
    requiredKeys: ['API_KEYS', 'ADMIN_API_KEYS'],
  },
  {
    project: 'inference-worker',
    service: 'inference-worker',
    dockerfile: 'apps/inference-worker/Dockerfile',
    portVariable: 'HEALTH_PORT',
    healthPath: '/health/live',
    // No API: health and metrics only.
    requiredKeys: [],
  },
  {
    project: 'drift-monitor',
    service: 'drift-monitor',
    dockerfile: 'apps/drift-monitor/Dockerfile',
    portVariable: 'PORT',
    healthPath: '/health/live',
    requiredKeys: ['API_KEYS', 'ADMIN_API_KEYS'],
  },
];

/** The inference worker: the service whose replicas scale and which mounts the model. */
export const WORKER_SERVICE = 'inference-worker';
