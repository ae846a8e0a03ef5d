// The dashboard's bounds (docs/dashboard.md, "Bounds"). Every list it keeps
// or sends, every stream and every event has a named upper bound here.

/** Open event streams per coordinator; one more gets HTTP 503. Separate from the HTTP server's own connection cap. */
export const dashboardStreamsMax = 1024;
/** Updates pushed per second per stream at most: changes in between are coalesced into one patch. */
export const dashboardUpdatesPerSecondMax = 4;
/** Largest event (bytes of its data line); a patch that would be larger is replaced by a `resync` event. */
export const dashboardEventBytesMax = 256 * 1024;
/** Recent events kept for resuming streams (Last-Event-ID); older ids get a fresh snapshot. */
export const dashboardRingEventsMax = 512;
/** Bytes of recent events kept; the oldest go first. */
export const dashboardRingBytesMax = 4 * 1024 * 1024;
/** A stream whose socket holds more unsent bytes than this is a slow reader and is closed (it resumes by id). */
export const dashboardStreamBufferBytesMax = 1024 * 1024;
/** A comment line on an idle stream this often keeps proxies from timing it out and finds dead peers. */
export const dashboardKeepAliveMs = 15_000;
/** What a page waits before reconnecting (the SSE `retry:` field). */
export const dashboardRetryMs = 1_000;
/** Member probes and the leader's session facts are refreshed this often while someone watches. */
export const dashboardProbeIntervalMs = 1_000;
/** Longest a member probe (or the fetch of session facts from the leader) may take. */
export const dashboardProbeTimeoutMs = 500;
/** With no stream open and no snapshot asked for this long, probes stop. */
export const dashboardViewerIdleMs = 10_000;
/** Workers sent (active and draining first, then lost). */
export const dashboardWorkersMax = 2_000;
/** Runs sent (running first, then the most recently submitted). */
export const dashboardRunsMax = 200;
/** Queued and running tasks sent (highest priority first). */
export const dashboardQueueMax = 500;
/** Leader changes remembered (since this coordinator started). */
export const dashboardLeaderChangesMax = 100;
/** Breaker transitions, resets and alerts remembered (since this coordinator started). */
export const dashboardRecentEventsMax = 200;
/** Samples kept for the charts (one a second while watched: five minutes). */
export const dashboardMetricPointsMax = 300;
/** Fsync durations kept between two samples. */
export const dashboardFsyncSamplesMax = 10_000;
/** Fault records sent (the newest; the chaos module keeps at most faultRecordsKeptMax of them). */
export const dashboardFaultsMax = 200;
/** Fault record keys read per look (once a second while watched); more are counted as omitted. */
export const dashboardFaultKeysReadMax = 2_000;
/** Commit latencies kept between two samples. */
export const dashboardCommitSamplesMax = 10_000;
/** Peers whose round trip is kept (a cluster has 3 to 9 members). */
export const dashboardPeersMax = 64;
/** Tasks in one run's detail; a bigger run's detail is cut and says so. */
export const dashboardRunDetailTasksMax = 5_000;
