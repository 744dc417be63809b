// End-to-end tests wait on real services: bounded waits inside, a generous ceiling here.
jest.setTimeout(180_000);
