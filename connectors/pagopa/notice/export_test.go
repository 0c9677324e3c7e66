package notice

// Update is the -update flag, for the tests of package notice_test.
var Update = update
