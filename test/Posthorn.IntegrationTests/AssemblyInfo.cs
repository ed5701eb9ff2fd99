// Each test class is a collection; classes run in parallel, but on a 2-core CI machine more than
// two daemons (each a .NET process) at once only adds contention and slows readiness.
[assembly: Xunit.CollectionBehavior(MaxParallelThreads = 2)]
