/** The mail DNS checks: the public surface the CLI, the sidebar and the tests use. */
export * from './types';
export * from './context';
export { DnsClient, createNodeResolver, normalizeName, reverseName, type RawResolver, type DnsAnswer, type MxData } from './resolver';
export { runReport, normalizeDomain, type ReportOptions } from './report';
export { renderMarkdown, renderText, reportToJson, renderSpfTree, type DomainReportJson } from './render';
export { createNodeHttpsFetcher, type NodeHttpsFetcherOptions } from './https';
export { createNodeStartTlsProber, type NodeStartTlsProberOptions } from './starttls';
export { parseSpf, isSpfRecord } from './spfParse';
export { parseTagList } from './tagList';
export { matchesMxPattern, parseStsPolicy } from './mtaSts';
export { COMMON_SELECTORS } from './dkim';
export { createEngineStartTlsProber, type EngineStartTlsProberOptions } from './engineProber';
