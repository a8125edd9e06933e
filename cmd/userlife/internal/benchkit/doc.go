// Package benchkit is the report side of `userlife bench`: each figure
// next to its raw anchor measured in the same run, the ratio between them
// and the target it is held to, printed as one table, written as JSON and
// drawn as charts (latency distributions, throughput against concurrency).
package benchkit
