using Kaze.Core.Native;
using Xunit;

namespace Kaze.Core.Tests.Waiting;

/// <summary>
/// The one-off move a spinning waiter makes when it finds its core shared. Each test works on a
/// thread of its own, since it changes that thread's affinity.
/// </summary>
public sealed class CpuAffinityTests
{
    [Fact]
    public void TryMoveOffCurrentCpu_TwoCpusAllowed_RunsOnTheOtherAfterwardsAndKeepsBoth()
    {
        RunOnOwnThread(() =>
        {
            IReadOnlyList<int> allowed = CpuAffinity.AllowedCpus();
            if (allowed.Count < 2)
            {
                // A one-CPU machine: the move has nowhere to go and must say so.
                Assert.False(CpuAffinity.TryMoveOffCurrentCpu());
                return;
            }

            int[] pair = [allowed[0], allowed[1]];
            Assert.True(CpuAffinity.TrySetAllowedCpus(pair), "could not restrict the test thread to two CPUs");
            for (int i = 0; i < 5; i++)
            {
                int before = CpuAffinity.CurrentCpu;
                Assert.Contains(before, pair);
                Assert.True(CpuAffinity.TryMoveOffCurrentCpu(), "the move failed with two CPUs allowed");
                // The kernel migrates the calling thread before sched_setaffinity returns; nothing
                // else narrows the mask, so the thread is on the other CPU now.
                Assert.Equal(pair[0] + pair[1] - before, CpuAffinity.CurrentCpu);
                Assert.Equal(pair, CpuAffinity.AllowedCpus());
            }
        });
    }

    [Fact]
    public void TryMoveOffCurrentCpu_OnlyThisCpuAllowed_ReturnsFalseAndChangesNothing()
    {
        RunOnOwnThread(() =>
        {
            int cpu = CpuAffinity.CurrentCpu;
            Assert.True(CpuAffinity.TrySetAllowedCpus([cpu]), "could not pin the test thread");
            Assert.False(CpuAffinity.TryMoveOffCurrentCpu());
            Assert.Equal(cpu, CpuAffinity.CurrentCpu);
            Assert.Equal([cpu], CpuAffinity.AllowedCpus());
        });
    }

    private static void RunOnOwnThread(Action body)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(10)), "the affinity test thread did not finish within 10 s");
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }
}
