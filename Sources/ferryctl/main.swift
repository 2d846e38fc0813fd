import FerryCLI

await Ferryctl.runFromCommandLine()
