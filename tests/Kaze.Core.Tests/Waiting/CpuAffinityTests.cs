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
    public void TryMoveOffCurrentCpu_ThreadMayRunAnywhere_RunsElsewhereAfterwardsAndMayStillRunAnywhere()
    {
        RunOnOwnThread(() =>
        {
            IReadOnlyList<int> allowed = CpuAffinity.AllowedCpus();
            if (allowed.Count < 2 || allowed.Count != CpuAffinity.OnlineCpus())
            {
                // One CPU, or a process restricted to some of them (taskset, a cpuset): the move
                // has nowhere to go, or is not ours to make, and must say so.
                Assert.False(CpuAffinity.TryMoveOffCurrentCpu());
                Assert.Equal(allowed, CpuAffinity.AllowedCpus());
                return;
            }

            // The kernel migrates the calling thread before sched_setaffinity returns; the
            // scheduler may move it back at any time after the mask is widened again, so most
            // moves, not all, are seen to have landed elsewhere.
            int moved = 0;
            for (int i = 0; i < 5; i++)
            {
                int before = CpuAffinity.CurrentCpu;
                Assert.True(CpuAffinity.TryMoveOffCurrentCpu(), "the move failed with every CPU allowed");
                if (CpuAffinity.CurrentCpu != before)
                {
                    moved++;
                }

                Assert.Equal(allowed, CpuAffinity.AllowedCpus());
            }

            Assert.True(moved >= 3, $"only {moved} of 5 moves left the CPU the thread was on");
        });
    }

    [Fact]
    public void TryMoveOffCurrentCpu_ThreadRestrictedToThisCpu_ReturnsFalseAndChangesNothing()
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
