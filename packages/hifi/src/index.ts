// @hifi/hifi: rank attention heads by information richness and correlation (HiFi, Gui & Xiao, ACL 2023) and select
// which to fine-tune.
export * from './symmetricEigen.ts';
export * from './headStatistics.ts';
export * from './headStatisticsTf.ts';
export * from './headRef.ts';
export * from './headGraph.ts';
export * from './pageRank.ts';
export * from './selectHeads.ts';
export * from './rankHeads.ts';
export * from './headReport.ts';
export * from './headMask.ts';
export * from './headGexf.ts';
export * from './headHeatmapSvg.ts';
export * from './viridis.ts';
export * from './fingerprint.ts';
export * from './analyzeHeads.ts';
