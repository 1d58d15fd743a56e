module goldengen

go 1.19

require github.com/robfig/cron/v3 v3.0.1

// Debian's golang-github-robfig-cron-dev installs the v3.0.1 sources here; there is no module
// proxy on the machines that regenerate the data.
replace github.com/robfig/cron/v3 => /usr/share/gocode/src/github.com/robfig/cron
