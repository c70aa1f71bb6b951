using System.Diagnostics;
using Kaze.Core.Waiting;
using Xunit;

namespace Kaze.Core.Tests.Waiting;

/// <summary>How a waiter's spin budget learns from its waits (synthetic timestamps: nothing waits here).</summary>
public sealed class SpinBudgetTests
{
    private static readonly long Us = Stopwatch.Frequency / 1_000_000;

    [Theory]
    [InlineData(null, SpinBudget.DefaultMaxMicroseconds)]
    [InlineData("", SpinBudget.DefaultMaxMicroseconds)]
    [InlineData("50", 50)]
    [InlineData("0", 0)]
    [InlineData("10000", 10_000)]
    [InlineData("10001", SpinBudget.DefaultMaxMicroseconds)]
    [InlineData("-5", SpinBudget.DefaultMaxMicroseconds)]
    [InlineData("fast", SpinBudget.DefaultMaxMicroseconds)]
    public void MaxMicroseconds_Setting_TakenWhenANumberInRange(string? setting, long expected)
    {
        Assert.Equal(expected, SpinBudget.MaxMicroseconds(setting, processors: 2));
    }

    [Theory]
    [InlineData(null, 0)]
    [InlineData("fast", 0)]
    [InlineData("50", 50)]
    public void MaxMicroseconds_OneCpu_NoSpinUnlessTheSettingAsks(string? setting, long expected)
    {
        Assert.Equal(expected, SpinBudget.MaxMicroseconds(setting, processors: 1));
    }

    [Fact]
    public void Begin_FreshBudget_HalfTheLongestSpin()
    {
        var budget = default(SpinBudget);
        Assert.Equal(SpinBudget.MaxTicks / 2, budget.Begin());
    }

    [Fact]
    public void Failed_Repeatedly_ShrinksToTheShortestAndStaysThere()
    {
        var budget = default(SpinBudget);
        for (int i = 0; i < 64; i++)
        {
            budget.Failed(budget.Begin());
        }

        Assert.Equal(SpinBudget.MinTicks, budget.Begin());
    }

    [Fact]
    public void Succeeded_Repeatedly_GrowsToTheLongestAndNoFurther()
    {
        var budget = default(SpinBudget);
        budget.Failed(budget.Begin());
        long shrunk = budget.Begin();
        budget.Succeeded(shrunk);
        Assert.True(budget.Begin() > shrunk, "a spin that paid off allows a longer one next time");
        for (int i = 0; i < 64; i++)
        {
            budget.Succeeded(budget.Begin());
        }

        Assert.Equal(SpinBudget.MaxTicks, budget.Begin());
    }

    [Fact]
    public void Slept_ShortWait_RestoresTheLongestSpinThreeTimesUntilASpinSucceeds()
    {
        var budget = default(SpinBudget);
        long shortWait = SpinBudget.MaxTicks + (10 * Us);

        // A peer that answers just beyond the spin: three restores, then the budget shrinks.
        for (int i = 0; i < 3; i++)
        {
            budget.Failed(budget.Begin());
            budget.Slept(0, shortWait);
            Assert.Equal(SpinBudget.MaxTicks, budget.Begin());
        }

        budget.Failed(budget.Begin());
        budget.Slept(0, shortWait);
        Assert.Equal(SpinBudget.MaxTicks / 2, budget.Begin());

        // A spin that pays off allows restores again.
        budget.Succeeded(budget.Begin());
        budget.Failed(budget.Begin());
        budget.Slept(0, shortWait);
        Assert.Equal(SpinBudget.MaxTicks, budget.Begin());
    }

    [Fact]
    public void Slept_LongWait_LeavesTheBudgetShrunk()
    {
        var budget = default(SpinBudget);
        budget.Failed(budget.Begin());
        long shrunk = budget.Begin();
        budget.Slept(0, 100_000 * Us);
        Assert.Equal(shrunk, budget.Begin());
    }
}
