/**
 * The JSON parser with offsets lives in common/jsonTree.ts (the language server lints rules files
 * with it too). This re-export keeps client/src/reports' imports working until they name common/.
 */
export { parseJsonTree, type JsonNode, type JsonProperty, type JsonParseResult } from '../../../common/jsonTree';
