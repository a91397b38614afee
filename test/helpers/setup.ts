import nock from "nock";

// No test may reach github.com or an AI provider; local servers on loopback are fine.
nock.disableNetConnect();
nock.enableNetConnect(/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/);
