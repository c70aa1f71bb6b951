namespace Kaze.Core.Waiting;

/// <summary>What a waiter waits for; a struct so the wait loop is specialised and allocates nothing.</summary>
internal interface IWaitCondition
{
    /// <summary>Reads shared state with acquire semantics and says whether the wait is over.</summary>
    bool IsSatisfied();
}
