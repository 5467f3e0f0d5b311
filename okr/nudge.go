package okr

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"

	"slicelab/tracking"
)

// Sending the survey and the digest now, rather than on Friday or Monday
// (the web UI's admin buttons and the CLI).

// QueueSurvey inserts the survey emails of a week now. The job is unique by
// its week (SurveyReminderArgs), so a week's survey goes out once: queued is
// false when it was queued or sent before, and nothing new is sent.
func QueueSurvey(ctx context.Context, jobs JobInserter, week tracking.Week) (queued bool, err error) {
	res, err := jobs.InsertMany(ctx, []river.InsertManyParams{{Args: SurveyReminderArgs{Week: week.String()}}})
	if err != nil {
		return false, fmt.Errorf("okr: queue survey: %w", err)
	}
	return len(res) == 1 && !res[0].UniqueSkippedAsDuplicate, nil
}

// QueueDigest inserts the Monday digest job now: every member of every team
// gets the review of the week that just ended. Each member's email is unique
// per week (DigestEmailArgs), so running it again sends nobody the same
// digest twice.
func QueueDigest(ctx context.Context, jobs JobInserter) error {
	if _, err := jobs.InsertMany(ctx, []river.InsertManyParams{{Args: DigestArgs{}}}); err != nil {
		return fmt.Errorf("okr: queue digest: %w", err)
	}
	return nil
}
