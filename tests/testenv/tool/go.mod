module aura-operator/testenv-tool

go 1.26
