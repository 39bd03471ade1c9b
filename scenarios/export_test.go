package scenarios

// TwinRig is twin for the specs.
var TwinRig = twin
