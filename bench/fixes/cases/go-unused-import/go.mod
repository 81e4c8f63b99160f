module example.com/go-unused-import

go 1.19
