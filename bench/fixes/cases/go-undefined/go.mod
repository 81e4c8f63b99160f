module example.com/go-undefined

go 1.19
