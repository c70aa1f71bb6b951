// These tests start real `kaze` processes. Every `kaze run` removes the stale channel files it
// finds at start (that is the product's job), and several tests create stale files on purpose or
// bind fixed behaviours to timing: they run one at a time.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
