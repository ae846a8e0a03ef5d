/** The dashboard's URL on a coordinator whose HTTP server listens on `httpAddress` (host:port, or [v6]:port). */
export function dashboardUrl(httpAddress: string): string {
  return `http://${httpAddress}/`;
}

/** The line `testudo up` and the demo print on its own: `dashboard: http://127.0.0.1:9101/`. */
export function dashboardLine(httpAddress: string): string {
  return `dashboard: ${dashboardUrl(httpAddress)}`;
}
