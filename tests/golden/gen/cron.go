package main

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// runsPerStart is how many successive activations are recorded after each start instant.
const runsPerStart = 6

// hangAfter bounds one Next call: robfig loops without end on a few zone transitions.
const hangAfter = 3 * time.Second

type cronCase struct {
	Spec  string    `json:"spec"`
	Note  string    `json:"note,omitempty"`
	OK    bool      `json:"ok"`
	Error string    `json:"error,omitempty"`
	Runs  []cronRun `json:"runs,omitempty"`
}

// cronRun is Next applied repeatedly from Start. Next holds the activations in order; Never is
// set when robfig returned the zero time ("nothing within five years") after them, and Hang when
// a call did not return within hangAfter.
type cronRun struct {
	Start string    `json:"start"`
	Next  []instant `json:"next"`
	Never bool      `json:"never,omitempty"`
	Hang  bool      `json:"hang,omitempty"`
}

// Start instants. Each is an RFC 3339 time with at most microseconds, which the Python side can
// hold exactly.
var (
	plain      = []string{"2026-03-01T00:00:00Z", "2026-06-15T13:37:42.5Z"}
	onTheMark  = []string{"2026-03-01T01:00:00Z", "2026-12-31T23:59:59.999999Z"}
	leapYears  = []string{"2027-12-31T00:00:00Z", "2028-02-29T00:00:01Z"}
	berlinDST  = []string{"2026-03-28T12:00:00Z", "2026-10-24T12:00:00Z", "2026-03-29T00:59:59Z"}
	newYorkDST = []string{"2026-03-07T12:00:00Z", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"}
	apiaDST    = []string{"2021-04-03T12:00:00Z", "2020-09-26T12:00:00Z", "2012-03-31T12:00:00Z"}
	apiaJump   = []string{"2011-12-29T09:00:00Z"}
	lordHowe   = []string{"2026-04-04T12:00:00Z", "2026-10-03T12:00:00Z"}
)

var cronSpecs = []struct {
	spec, note string
	starts     []string
}{
	// Five fields.
	{"0 1 * * *", "nightly", plain},
	{"0 1 * * *", "start exactly on an activation: Next is strictly after", onTheMark},
	{"*/15 * * * *", "", plain},
	{"0 */6 * * *", "", plain},
	{"30 2 * * 1-5", "weekdays", plain},
	{"0 0 1 * *", "", plain},
	{"0 0 * * 0", "Sunday as 0", plain},
	{"0 0 * * 7", "7 is out of robfig's 0-6", plain},
	{"0 0 * * SUN", "", plain},
	{"0 0 * * mon-fri", "names are case-insensitive", plain},
	{"0 0 * * Sat-Sun", "a name range that wraps", plain},
	{"0 0 1 JAN *", "", plain},
	{"0 0 1 jan-mar *", "", plain},
	{"0 0 * FEB-JAN *", "", plain},
	{"5-10/2 * * * *", "", plain},
	{"0 0 29 2 *", "leap day", leapYears},
	{"0 0 30 2 *", "February 30 never fires", plain},
	{"0 0 31 4 *", "April 31 never fires", plain},
	{"0 0 31 * *", "", plain},
	{"0 12 1,15 * *", "", plain},
	{"0 0 1,,15 * *", "an empty list item", plain},
	{"0 0 1, * *", "a trailing comma", plain},
	{"0 0 L * *", "no L in robfig", plain},
	{"0 0 ? * *", "", plain},
	{"0 0 * * ?", "", plain},
	{"* * * * *", "", plain},
	{"0 0 */2 * 1", "a stepped day-of-month is not a star: either field may match", plain},
	{"0 0 1 * 1", "both days restricted: either may match", plain},
	{"0 0 * * 1", "day-of-month star: only the weekday counts", plain},
	{"0 0 ? * 1", "", plain},
	{"0 0 1 1/2 *", "a step without a range runs to the field's end", plain},
	{"0 0 * * 1/2", "", plain},
	{"0 0 1-31/10 * *", "", plain},
	{"0 0 15-15 * *", "", plain},
	{"*/5 */5 * * *", "", plain},
	{"0 0 +1 * *", "strconv.Atoi accepts a sign", plain},
	{"0 0 01 * *", "a leading zero", plain},
	{"  0 1 * * *  ", "surrounding spaces", plain},
	{"0\t1 * *\t*", "tabs between fields", plain},
	{"0 0 * * * *", "six fields", plain},
	{"0 0 * *", "four fields", plain},
	{"", "empty", plain},
	{"60 * * * *", "", plain},
	{"* 24 * * *", "", plain},
	{"0 0 0 * *", "", plain},
	{"0 0 * 13 *", "", plain},
	{"0 0 * 0 *", "", plain},
	{"*/0 * * * *", "a zero step", plain},
	{"5-1 * * * *", "a reversed range", plain},
	{"a * * * *", "", plain},
	{"-1 * * * *", "", plain},
	{"1-2-3 * * * *", "", plain},
	{"1/2/3 * * * *", "", plain},
	// Descriptors.
	{"@yearly", "", plain},
	{"@annually", "", plain},
	{"@monthly", "", plain},
	{"@weekly", "", plain},
	{"@daily", "", plain},
	{"@midnight", "", plain},
	{"@hourly", "", plain},
	{"@DAILY", "descriptors are case-sensitive", plain},
	{"@reboot", "", plain},
	{"@every", "", plain},
	{"@every 1h", "", plain},
	{"@every 90m", "", plain},
	{"@every 1h30m", "", plain},
	{"@every 36h", "", plain},
	{"@every 1.5h", "", plain},
	{"@every 500ms", "under a second becomes a second", plain},
	{"@every 1500ms", "the sub-second part is dropped", plain},
	{"@every 0s", "", plain},
	{"@every -1h", "a negative delay becomes a second", plain},
	{"@every 1d", "no day unit in Go durations", plain},
	{"@every 1h ", "a trailing space", plain},
	{"@every  1h", "two spaces", plain},
	// Time zones.
	{"CRON_TZ=Europe/Berlin 30 2 * * *", "02:30 falls in the spring gap and occurs twice in autumn", berlinDST},
	{"CRON_TZ=Europe/Berlin 0 3 * * *", "", berlinDST},
	{"CRON_TZ=Europe/Berlin 0 * * * *", "hourly across both transitions", berlinDST},
	{"TZ=Europe/Berlin 0 1 * * 6", "", berlinDST},
	{"CRON_TZ=America/New_York 0 2 * * *", "", newYorkDST},
	{"TZ=America/New_York 30 1 * * *", "01:30 occurs twice on the fall-back night", newYorkDST},
	{"CRON_TZ=America/New_York @daily", "", newYorkDST},
	{"CRON_TZ=America/New_York @every 1h", "@every ignores the zone", newYorkDST},
	{"CRON_TZ=Pacific/Apia 30 3 * * *", "Samoa's daylight saving, 2010-2021", apiaDST},
	{"CRON_TZ=Pacific/Apia 0 0 * * *", "Samoa skipped 30 December 2011", apiaJump},
	{"CRON_TZ=Pacific/Apia 0 12 * * *", "", apiaJump},
	{"CRON_TZ=Pacific/Apia 0 12 30 12 *", "only on the day Samoa skipped", apiaJump},
	{"CRON_TZ=Pacific/Apia 0 12 29-31 12 *", "", apiaJump},
	{"CRON_TZ=Australia/Lord_Howe 15 2 * * *", "a half-hour shift", lordHowe},
	{"CRON_TZ=Asia/Kolkata 0 0 * * *", "", plain},
	{"CRON_TZ=UTC 0 1 * * *", "", plain},
	{"TZ=UTC @daily", "", plain},
	{"TZ= 0 1 * * *", "an empty zone name is UTC", plain},
	{"TZ=Local 0 1 * * *", "Local is the generator's UTC", plain},
	{"CRON_TZ=Invalid/Zone 0 0 * * *", "", plain},
	{"CRON_TZ=europe/berlin 0 0 * * *", "zone names are case-sensitive", plain},
	{"CRON_TZ=Europe/Berlin", "a prefix with no schedule", plain},
	{"CRON_TZ=Europe/Berlin  0 1 * * *", "two spaces after the prefix", berlinDST},
}

func cronCases() []cronCase {
	cases := make([]cronCase, 0, len(cronSpecs))
	for _, s := range cronSpecs {
		c := cronCase{Spec: s.spec, Note: s.note}
		schedule, err := parse(s.spec)
		if err != nil {
			c.Error = err.Error()
			cases = append(cases, c)
			continue
		}
		c.OK = true
		for _, start := range s.starts {
			c.Runs = append(c.Runs, runFrom(schedule, start))
		}
		cases = append(cases, c)
	}
	return cases
}

// parse is cron.ParseStandard, with a panic (robfig slices out of range on a zone prefix
// without a space) turned into an error, as Velero's schedule validation does.
func parse(spec string) (schedule cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			schedule, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return cron.ParseStandard(spec)
}

func runFrom(schedule cron.Schedule, start string) cronRun {
	t, err := time.Parse(time.RFC3339Nano, start)
	must(err)
	run := cronRun{Start: start, Next: []instant{}}
	for i := 0; i < runsPerStart; i++ {
		next, ok := nextWithin(schedule, t)
		if !ok {
			run.Hang = true
			return run
		}
		if next.IsZero() {
			run.Never = true
			return run
		}
		run.Next = append(run.Next, instantOf(next))
		t = next
	}
	return run
}

func nextWithin(schedule cron.Schedule, t time.Time) (time.Time, bool) {
	done := make(chan time.Time, 1)
	go func() { done <- schedule.Next(t) }()
	select {
	case next := <-done:
		return next, true
	case <-time.After(hangAfter):
		return time.Time{}, false // the goroutine keeps spinning until the generator exits
	}
}
