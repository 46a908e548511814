import MailroomCore
import Testing

@Suite struct FetchBatchPlanTests {
    /// Steps taken until the plan says a batch is complete, each message `size` bytes.
    func steps(_ plan: FetchBatchPlan, first: Bool, size: Int) -> [Int] {
        var (count, bytes, steps) = (0, 0, [Int]())
        while case let step = plan.nextStep(first: first, count: count, bytes: bytes), step > 0 {
            steps.append(step)
            count += step
            bytes += step * size
        }
        return steps
    }

    @Test func theFirstBatchIsOneStepAndLaterOnesFillUpToTheCount() {
        let plan = FetchBatchPlan(stepCount: 100, maxCount: 500, maxBytes: 16 << 20)
        #expect(steps(plan, first: true, size: 30_000) == [100])
        #expect(steps(plan, first: false, size: 30_000) == [100, 100, 100, 100, 100])
    }

    @Test func aBatchStopsAtTheCountEvenWithinAStep() {
        #expect(steps(FetchBatchPlan(stepCount: 20, maxCount: 30, maxBytes: 1 << 30), first: false, size: 1) == [20, 10])
    }

    @Test func largeMessagesEndABatchOnceItHoldsTheBytes() {
        let plan = FetchBatchPlan(stepCount: 100, maxCount: 500, maxBytes: 16 << 20)
        // 100 messages of 100 kB are 10 MB: one more step, then the batch holds more than 16 MB.
        #expect(steps(plan, first: false, size: 100_000) == [100, 100])
        // A batch already at the byte bound takes nothing more, whatever its count.
        #expect(plan.nextStep(first: false, count: 1, bytes: 16 << 20) == 0)
    }

    @Test func nonsenseLimitsStillMakeProgress() {
        let plan = FetchBatchPlan(stepCount: 0, maxCount: -5, maxBytes: 0)
        #expect(plan.nextStep(first: true, count: 0, bytes: 0) == 1)
        #expect(plan.nextStep(first: false, count: 1, bytes: 10) == 0)
    }
}
