/**
 * The lineage rule of every aggregation stage, expression operator, accumulator and window operator of the MongoDB
 * 7.0 and 8.x documentation (Aggregation Stages, Expression Operators, Accumulators, Window Operators), as data. The
 * tracer (trace.ts) applies these rules; an operator or stage that is not in these tables is unknown lineage and fails
 * closed (refused, or every output it reaches masked, per `onUnknownLineage`). Reviewing the rules means reading these
 * tables; docs/mongodb.md ("The masking guarantee") explains each kind.
 *
 * Kinds of expression rules:
 *  - `boolean`: the result is a boolean, a comparison's sign or a type name: non-revealing (SPEC's short list:
 *    comparisons, pattern tests, existence). Inside a condition (`$cond`'s `if`, `$switch`'s `case`, `$filter`'s
 *    `cond`) its arguments flow instead, as SQL CASE conditions do: `$cond: [{$eq: [$substrCP(ssn, 0, 1), '1']}, 'a',
 *    'b']` spells a value out one test at a time.
 *  - `constant`: nothing of any argument (`$rand`, `$literal`).
 *  - `derived`: a new value computed from every argument (arithmetic, strings, dates, conversions, sizes, indexes,
 *    hashes): it gets the derived mask. `content`: it reads whole documents (serializes or sizes them), so a
 *    subdocument whose field names dgf cannot know makes it untraceable. `returns`: named arguments it may return
 *    unchanged (`onError`, `onNull`).
 *  - `passes`: the result is one of the `values` arguments, unchanged (a choice, an element, a subset, a merge): it keeps
 *    its source's own mask when it is one plain copy. `selectors` choose which one (an index, a count, the second set
 *    of `$setDifference`): they flow as conditions do.
 *  - `own`: a rule of its own in trace.ts (variables, field access by name, conditions, document <-> array).
 *  - `untraceable`: dgf cannot follow it (`why`).
 *  - `javascript`: server-side JavaScript: refused for roles with masks.
 */

/** Arguments of an operator: `all`, or positions (array form) and names (document form). */
export type ArgSelector = 'all' | readonly (number | string)[];

export type ExpressionRule =
  | { readonly rule: 'boolean' }
  | { readonly rule: 'constant' }
  | { readonly rule: 'derived'; readonly content?: true; readonly returns?: readonly string[] }
  | { readonly rule: 'passes'; readonly values: ArgSelector; readonly selectors?: ArgSelector }
  | { readonly rule: 'own' }
  | { readonly rule: 'untraceable'; readonly why: string }
  | { readonly rule: 'javascript' };

const BOOLEAN: ExpressionRule = { rule: 'boolean' };
const CONSTANT: ExpressionRule = { rule: 'constant' };
const DERIVED: ExpressionRule = { rule: 'derived' };
const DERIVED_CONTENT: ExpressionRule = { rule: 'derived', content: true };
const PASSES_ALL: ExpressionRule = { rule: 'passes', values: 'all' };
const OWN: ExpressionRule = { rule: 'own' };
const JAVASCRIPT: ExpressionRule = { rule: 'javascript' };

function table<T>(groups: ReadonlyArray<readonly [T, readonly string[]]>): ReadonlyMap<string, T> {
  const out = new Map<string, T>();
  for (const [rule, names] of groups) for (const n of names) out.set(n, rule);
  return out;
}

/** Expression operators (`$project`, `$addFields`, `$expr`, ... and every expression argument). */
export const EXPRESSION_OPERATORS: ReadonlyMap<string, ExpressionRule> = table<ExpressionRule>([
  [BOOLEAN, [
    '$and', '$or', '$not', '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$cmp', '$strcasecmp', '$in', '$isArray',
    '$isNumber', '$type', '$regexMatch', '$allElementsTrue', '$anyElementTrue', '$setEquals', '$setIsSubset',
    '$encStrStartsWith', '$encStrEndsWith', '$encStrContains', '$encStrNormalizedEq',
  ]],
  [CONSTANT, ['$rand']],
  [DERIVED, [
    // arithmetic
    '$abs', '$add', '$ceil', '$divide', '$exp', '$floor', '$ln', '$log', '$log10', '$mod', '$multiply', '$pow', '$round',
    '$sqrt', '$subtract', '$trunc', '$sigmoid',
    // trigonometry
    '$sin', '$cos', '$tan', '$asin', '$acos', '$atan', '$atan2', '$asinh', '$acosh', '$atanh', '$sinh', '$cosh', '$tanh',
    '$degreesToRadians', '$radiansToDegrees',
    // bitwise
    '$bitAnd', '$bitOr', '$bitXor', '$bitNot',
    // strings: every window of a string ($substr*, $split, $regexFind*) is a derived value, masked whole
    '$concat', '$indexOfBytes', '$indexOfCP', '$ltrim', '$rtrim', '$trim', '$regexFind', '$regexFindAll', '$replaceOne',
    '$replaceAll', '$split', '$strLenBytes', '$strLenCP', '$substr', '$substrBytes', '$substrCP', '$toLower', '$toUpper',
    // arrays: a position or a count computed from the values
    '$indexOfArray', '$range', '$size',
    // dates and timestamps
    '$dateAdd', '$dateDiff', '$dateFromParts', '$dateSubtract', '$dateToParts', '$dateToString', '$dateTrunc',
    '$dayOfMonth', '$dayOfWeek', '$dayOfYear', '$hour', '$isoDayOfWeek', '$isoWeek', '$isoWeekYear', '$millisecond',
    '$minute', '$month', '$second', '$week', '$year', '$tsIncrement', '$tsSecond',
    // conversions of scalars ($toString and $convert have their own rule: from 8.3 they serialize documents too)
    '$toBool', '$toDate', '$toDecimal', '$toDouble', '$toInt', '$toLong', '$toObjectId', '$toUUID', '$binarySize',
    // statistics in expression form
    '$avg', '$sum', '$stdDevPop', '$stdDevSamp', '$median', '$percentile',
  ]],
  [DERIVED_CONTENT, ['$bsonSize', '$toHashedIndexKey']],
  [{ rule: 'derived', returns: ['onError', 'onNull'] }, ['$dateFromString']],
  [PASSES_ALL, ['$ifNull', '$first', '$last', '$reverseArray', '$concatArrays', '$setUnion', '$setIntersection', '$max', '$min', '$mergeObjects']],
  [{ rule: 'passes', values: [0], selectors: [1] }, ['$arrayElemAt', '$setDifference']],
  [{ rule: 'passes', values: [0], selectors: [1, 2] }, ['$slice']],
  [{ rule: 'passes', values: ['input'], selectors: ['n'] }, ['$firstN', '$lastN', '$maxN', '$minN']],
  [{ rule: 'passes', values: ['input'] }, ['$sortArray']],
  [{ rule: 'passes', values: ['inputs', 'defaults'] }, ['$zip']],
  [OWN, [
    '$literal', '$cond', '$switch', '$let', '$map', '$filter', '$reduce', '$getField', '$setField', '$unsetField',
    '$objectToArray', '$arrayToObject', '$meta', '$convert', '$toString',
  ]],
  [JAVASCRIPT, ['$function', '$accumulator']],
]);

/** `$meta` keywords: what each one returns. */
export const META_KEYWORDS: ReadonlyMap<string, ExpressionRule> = table<ExpressionRule>([
  [CONSTANT, ['textScore', 'searchScore', 'vectorSearchScore', 'score', 'scoreDetails', 'searchScoreDetails', 'recordId', 'geoNearDistance', 'randVal', 'stableSearchScore']],
  [{ rule: 'untraceable', why: "$meta 'indexKey' (the indexed values of the document, under index key names)" }, ['indexKey']],
  [{ rule: 'untraceable', why: "$meta 'sortKey' (the sort values of the document, without their names)" }, ['sortKey']],
  [{ rule: 'untraceable', why: "$meta 'geoNearPoint' (a location value of the document)" }, ['geoNearPoint']],
  [{ rule: 'untraceable', why: "$meta 'searchHighlights' (text passages of the document's fields)" }, ['searchHighlights']],
  [{ rule: 'untraceable', why: "$meta 'searchSequenceToken' (an encoding of the document's sort values)" }, ['searchSequenceToken']],
]);

/** Accumulators (`$group`, `$bucket`/`$bucketAuto` output) and window operators (`$setWindowFields` output). */
export type AccumulatorRule =
  | { readonly rule: 'passes'; readonly values: ArgSelector; readonly selectors?: ArgSelector }
  | { readonly rule: 'derived' }
  | { readonly rule: 'constant' }
  | { readonly rule: 'javascript' };

export const ACCUMULATORS: ReadonlyMap<string, AccumulatorRule> = table<AccumulatorRule>([
  [{ rule: 'passes', values: 'all' }, ['$first', '$last', '$push', '$addToSet', '$max', '$min', '$mergeObjects', '$concatArrays', '$setUnion']],
  [{ rule: 'passes', values: ['output'] }, ['$top', '$bottom']],
  [{ rule: 'passes', values: ['output'], selectors: ['n'] }, ['$topN', '$bottomN']],
  [{ rule: 'passes', values: ['input'], selectors: ['n'] }, ['$firstN', '$lastN', '$maxN', '$minN']],
  [{ rule: 'derived' }, ['$sum', '$avg', '$stdDevPop', '$stdDevSamp', '$median', '$percentile']],
  [{ rule: 'constant' }, ['$count']],
  [{ rule: 'javascript' }, ['$accumulator']],
]);

/** Window operators beyond the accumulators (`$setWindowFields` only). */
export const WINDOW_OPERATORS: ReadonlyMap<string, AccumulatorRule> = table<AccumulatorRule>([
  [{ rule: 'passes', values: ['output', 'default'] }, ['$shift']],
  [{ rule: 'passes', values: 'all' }, ['$locf']],
  [{ rule: 'derived' }, ['$linearFill', '$derivative', '$integral', '$expMovingAvg', '$covariancePop', '$covarianceSamp']],
  [{ rule: 'constant' }, ['$rank', '$denseRank', '$documentNumber']],
]);

/**
 * Stages. `identity`: the documents pass unchanged (filtered, ordered, sampled); `metadata`: replaced by server
 * metadata that holds no document values; `untraceable`: output dgf cannot follow (other operations' commands with
 * their values, statistics, search facets); `write`: `$out`/`$merge` (refused for roles with masks); every other kind
 * has its own rule in trace.ts.
 */
export type StageRule =
  | 'identity' | 'project' | 'addFields' | 'replaceRoot' | 'replaceWith' | 'group' | 'bucket' | 'bucketAuto'
  | 'sortByCount' | 'count' | 'unwind' | 'lookup' | 'graphLookup' | 'unionWith' | 'facet' | 'setWindowFields'
  | 'densify' | 'fill' | 'geoNear' | 'documents' | 'changeStream' | 'write' | 'metadata'
  | { readonly untraceable: string };

export const STAGES: ReadonlyMap<string, StageRule> = table<StageRule>([
  ['identity', ['$match', '$sort', '$limit', '$skip', '$sample', '$redact', '$unset', '$search', '$vectorSearch', '$changeStreamSplitLargeEvent']],
  ['project', ['$project']],
  ['addFields', ['$addFields', '$set']],
  ['replaceRoot', ['$replaceRoot']],
  ['replaceWith', ['$replaceWith']],
  ['group', ['$group']],
  ['bucket', ['$bucket']],
  ['bucketAuto', ['$bucketAuto']],
  ['sortByCount', ['$sortByCount']],
  ['count', ['$count']],
  ['unwind', ['$unwind']],
  ['lookup', ['$lookup']],
  ['graphLookup', ['$graphLookup']],
  ['unionWith', ['$unionWith']],
  ['facet', ['$facet']],
  ['setWindowFields', ['$setWindowFields']],
  ['densify', ['$densify']],
  ['fill', ['$fill']],
  ['geoNear', ['$geoNear']],
  ['documents', ['$documents']],
  ['changeStream', ['$changeStream']],
  ['write', ['$out', '$merge']],
  ['metadata', ['$collStats', '$indexStats', '$listSessions', '$listLocalSessions', '$listSearchIndexes', '$shardedDataDistribution', '$listClusterCatalog']],
  [{ untraceable: "$currentOp (other operations' commands, with their values)" }, ['$currentOp']],
  [{ untraceable: '$planCacheStats (query shapes and plans, with the values of the queries that created them)' }, ['$planCacheStats']],
  [{ untraceable: '$queryStats (other queries, with their values)' }, ['$queryStats']],
  [{ untraceable: '$listSampledQueries (other queries, with their values)' }, ['$listSampledQueries']],
  [{ untraceable: '$querySettings (representative queries, with their values)' }, ['$querySettings']],
  [{ untraceable: '$searchMeta (facet buckets named by field values)' }, ['$searchMeta']],
  [{ untraceable: '$score (a score computed by an expression, returned through $meta)' }, ['$score']],
  [{ untraceable: '$rankFusion (documents of several sub-pipelines merged by rank)' }, ['$rankFusion']],
  [{ untraceable: '$scoreFusion (documents of several sub-pipelines merged by score)' }, ['$scoreFusion']],
]);

/** Query operators whose arguments are aggregation expressions or JavaScript (the rest are predicates on values). */
export const QUERY_EXPRESSION_OPERATORS = new Set(['$expr']);
export const QUERY_JAVASCRIPT_OPERATORS = new Set(['$where']);

/**
 * System variables. `$$ROOT`, `$$CURRENT` and user variables are bound by the tracer; `$$REMOVE` removes a field;
 * these are constants; `$$SEARCH_META` holds search facets (untraceable).
 */
export const CONSTANT_VARIABLES = new Set(['NOW', 'CLUSTER_TIME', 'USER_ROLES', 'DESCEND', 'PRUNE', 'KEEP', 'REMOVE']);
export const UNTRACEABLE_VARIABLES: ReadonlyMap<string, string> = new Map([['SEARCH_META', '$$SEARCH_META (search facets named by field values)']]);
