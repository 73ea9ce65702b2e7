/** The feature bundle of the Mail DNS view: the checks, their resolver, fetcher and prober. */
export { createNodeHttpsFetcher, createNodeResolver, createEngineStartTlsProber, normalizeDomain, renderMarkdown, reportToJson, runReport } from '../dns/index';
export { checkDkimKey, isDkimName } from '../mailAuth/dkimKeyCheck';
export { createTlsChainProber } from '../dns/tlsChain';
